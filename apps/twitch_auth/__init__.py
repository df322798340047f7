"""twitch_auth: Twitch OAuth in the browser, token lifecycle, app tokens and bot accounts."""
