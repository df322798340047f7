"""twitch_webhooks: EventSub webhooks and WebSocket, channels, subscriptions, activities, hub."""

from . import channels, events, hub, subscriptions, webhook  # noqa: F401
