"""twitch_webhooks: EventSub webhooks and WebSocket, channels, subscriptions, activities, hub."""
