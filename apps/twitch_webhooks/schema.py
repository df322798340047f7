"""twitch_webhooks' tables: the EventSub subscriptions (ours and those found at Twitch), every
event received whichever transport brought it, and the event hub — service accounts of local
services, their interests, the Twitch subscriptions the hub keeps for them, and the live state the
worker reports (EventSub WebSocket sessions, hub connections) so that /health in the web process
can show it."""

from pydal import Field

from shared import overlay_links

SUBSCRIPTION_TRANSPORTS = ("webhook", "websocket")
INTEREST_TRANSPORTS = ("websocket", "webhook")

INDEXES = [
    ("eventsub_subscription", "eventsub_subscription_twitch_uq", ("twitch_id",), True),
    ("eventsub_subscription", "eventsub_subscription_status_idx", ("status",)),
    # one row per message id, shared by the webhook and WebSocket transports: durable dedup
    ("eventsub_event", "eventsub_event_message_uq", ("message_id",), True),
    ("eventsub_event", "eventsub_event_type_idx", ("event_type", "id")),
    ("eventsub_event", "eventsub_event_channel_idx", ("channel_id", "id")),
    ("eventsub_event", "eventsub_event_user_idx", ("user_id", "id")),
    ("eventsub_event", "eventsub_event_received_idx", ("received_at",)),
    ("hub_service_account", "hub_service_account_client_uq", ("client_id",), True),
    ("hub_service_account", "hub_service_account_name_uq", ("name",), True),
    ("hub_interest", "hub_interest_public_uq", ("interest_id",), True),
    ("hub_interest", "hub_interest_account_idx", ("account_id",)),
    ("hub_interest", "hub_interest_key_idx", ("sub_key",)),
    ("hub_subscription", "hub_subscription_key_uq", ("sub_key",), True),
    ("hub_subscription", "hub_subscription_twitch_idx", ("twitch_id",)),
    ("hub_cursor", "hub_cursor_name_uq", ("name",), True),
    ("eventsub_ws_session", "eventsub_ws_session_bot_uq", ("bot_name",), True),
    ("hub_server", "hub_server_worker_uq", ("worker_id",), True),
    ("eventsub_conduit_shard", "eventsub_conduit_shard_uq", ("conduit_id", "shard_id"), True),
    ("alert_overlay_link", "alert_overlay_link_token_uq", ("token_hash",), True),
]


def define(db) -> None:
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
    # `secret_hash` is a salted scrypt hash: the secret is shown once, at creation or regeneration.
    db.define_table(
        "hub_service_account",
        Field("client_id", "string", length=64, notnull=True),
        Field("name", "string", length=64, notnull=True),
        Field("secret_hash", "string", length=255, notnull=True),
        Field("secret_version", "integer", notnull=True, default=1),  # +1 per regeneration
        Field("created_at", "datetime", notnull=True),
        Field("secret_rotated_at", "datetime", notnull=True),
        Field("helix_methods", "string", length=64, default=""),  # "GET,POST": helix_proxy
    )
    # One event type for one broadcaster, wanted by one service, through the subscription `sub_key`
    # (a digest of bot + type + version + condition: many interests share one Twitch subscription).
    # `webhook_secret` is Fernet-encrypted: it signs the webhooks and is shown once, at creation.
    db.define_table(
        "hub_interest",
        Field("interest_id", "string", length=40, notnull=True),
        Field("account_id", "reference hub_service_account", ondelete="CASCADE", notnull=True),
        Field("bot_name", "string", length=32, notnull=True),
        Field("event_type", "string", length=100, notnull=True),
        Field("version", "string", length=16, notnull=True),
        Field("broadcaster_user_id", "string", length=64, notnull=True),
        Field("condition", "json", notnull=True),
        Field("sub_key", "string", length=64, notnull=True),
        Field("transport", "string", length=16, notnull=True),
        Field("webhook_url", "string", length=1024),
        Field("webhook_secret", "text"),
        Field("created_at", "datetime", notnull=True),
    )
    # The Twitch subscription serving one sub_key: created by the hub on the bot's WebSocket
    # session, or an enabled one found at Twitch and reused (`created_by_hub` false).
    db.define_table(
        "hub_subscription",
        Field("sub_key", "string", length=64, notnull=True),
        Field("bot_name", "string", length=32, notnull=True),
        Field("event_type", "string", length=100, notnull=True),
        Field("version", "string", length=16, notnull=True),
        Field("condition", "json", notnull=True),
        Field("twitch_id", "string", length=64),
        Field("transport_method", "string", length=16),
        Field("session_id", "string", length=128),
        Field("status", "string", length=64, notnull=True, default="pending"),
        Field("created_by_hub", "boolean", notnull=True, default=False),
        Field("last_error", "string", length=512),
        Field("updated_at", "datetime", notnull=True),
    )
    # How far a singleton forwarder got in eventsub_event (its id), so a restart resumes there.
    db.define_table(
        "hub_cursor",
        Field("name", "string", length=64, notnull=True),
        Field("last_event_id", "bigint", notnull=True, default=0),
        Field("updated_at", "datetime", notnull=True),
    )
    db.define_table(
        "eventsub_ws_session",
        Field("bot_name", "string", length=32, notnull=True),
        Field("state", "string", length=32, notnull=True),
        Field("detail", "string", length=512),
        Field("session_id", "string", length=128),
        Field("connected_at", "datetime"),
        Field("updated_at", "datetime", notnull=True),
    )
    db.define_table(
        "hub_server",
        Field("worker_id", "string", length=64, notnull=True),
        Field("connections", "integer", notnull=True, default=0),
        Field("updated_at", "datetime", notnull=True),
    )
    # EVENTSUB_TRANSPORT=conduit: the app's one conduit, and which worker's WebSocket session serves
    # each shard (the worker holds the shard's lock while it does; a dead worker's lock is free)
    db.define_table(
        "eventsub_conduit",
        Field("conduit_id", "string", length=64, notnull=True),
        Field("shard_count", "integer", notnull=True),
        Field("updated_at", "datetime", notnull=True),
    )
    db.define_table(
        "eventsub_conduit_shard",
        Field("conduit_id", "string", length=64, notnull=True),
        Field("shard_id", "string", length=8, notnull=True),
        Field("worker_id", "string", length=128),
        Field("session_id", "string", length=128),
        Field("status", "string", length=64, notnull=True),
        Field("detail", "string", length=512),
        Field("updated_at", "datetime", notnull=True),
    )
    # secret links that open the alerts overlay without a cookie (OBS browser sources)
    overlay_links.define_table(db, "alert_overlay_link")
