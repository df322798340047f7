"""EventSub area: the Twitch channels the system follows, the EventSub subscriptions (ours and
those found at Twitch) and every event received, whichever transport brought it."""

from pydal import Field

SUBSCRIPTION_TRANSPORTS = ("webhook", "websocket")

INDEXES = [
    ("twitch_channel", "twitch_channel_broadcaster_uq", ("broadcaster_id",), True),
    ("twitch_channel", "twitch_channel_login_idx", ("login",)),
    ("eventsub_subscription", "eventsub_subscription_twitch_uq", ("twitch_id",), True),
    ("eventsub_subscription", "eventsub_subscription_status_idx", ("status",)),
    # one row per message id, shared by the webhook and WebSocket transports: durable dedup
    ("eventsub_event", "eventsub_event_message_uq", ("message_id",), True),
    ("eventsub_event", "eventsub_event_type_idx", ("event_type", "id")),
    ("eventsub_event", "eventsub_event_channel_idx", ("channel_id", "id")),
    ("eventsub_event", "eventsub_event_user_idx", ("user_id", "id")),
    ("eventsub_event", "eventsub_event_received_idx", ("received_at",)),
]


def define(db) -> None:
    db.define_table(
        "twitch_channel",
        Field("broadcaster_id", "string", length=64, notnull=True),
        Field("login", "string", length=64, notnull=True),
        Field("display_name", "string", length=128),
        Field("active", "boolean", notnull=True, default=True),
        Field("points_overrides", "json"),
        Field("created_at", "datetime", notnull=True),
        Field("updated_at", "datetime"),
    )
    # `status` is Twitch's (enabled, webhook_callback_verification_pending, a revocation reason…);
    # `secret_encrypted` is the webhook secret we gave Twitch for this subscription (Fernet).
    db.define_table(
        "eventsub_subscription",
        Field("twitch_id", "string", length=64, notnull=True),
        Field("type", "string", length=100, notnull=True),
        Field("version", "string", length=16, notnull=True),
        Field("condition", "json"),
        Field("transport_method", "string", length=16, notnull=True),
        Field("callback", "string", length=1024),
        Field("session_id", "string", length=128),
        Field("status", "string", length=64, notnull=True),
        Field("cost", "integer", notnull=True, default=0),
        Field("secret_encrypted", "text"),
        Field("created_by_us", "boolean", notnull=True, default=False),
        Field("revoked_reason", "string", length=64),
        Field("created_at", "datetime", notnull=True),
        Field("updated_at", "datetime", notnull=True),
    )
    # The raw event as Twitch sent it; channel_id/user_id are copied out for the filters.
    db.define_table(
        "eventsub_event",
        Field("message_id", "string", length=128, notnull=True),
        Field("subscription_id", "string", length=64),
        Field("event_type", "string", length=100, notnull=True),
        Field("event_version", "string", length=16),
        Field("transport", "string", length=16, notnull=True),
        Field("channel_id", "string", length=64),
        Field("user_id", "string", length=64),
        Field("event", "json"),
        Field("activity_id", "bigint"),
        Field("received_at", "datetime", notnull=True),
    )
