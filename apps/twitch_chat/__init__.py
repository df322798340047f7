"""twitch_chat: the Twitch chat listener, chat commands and the !reco recommendation flow."""
