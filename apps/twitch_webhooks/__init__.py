"""twitch_webhooks: EventSub webhooks and WebSocket, channels, subscriptions, activities, hub,
the alerts overlay."""

from . import channels, events, overlay, subscriptions, webhook  # noqa: F401
from .conduit import routes as conduit_routes  # noqa: F401
from .hub import routes  # noqa: F401
