"""EventSub for this module: storing what Twitch sends (store) and managing subscriptions at Twitch (helix)."""
