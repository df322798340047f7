"""Core tables: activities, the outbox, admin magic links, worker heartbeats, dispatched events."""

from pydal import Field

OUTBOX_STATUSES = ("pending", "delivered", "dead", "not_forwarded")

INDEXES = [
    ("outbox", "outbox_idempotency_key_uq", ("idempotency_key",), True),
    ("outbox", "outbox_claim_idx", ("status", "next_attempt_at", "id")),  # the claim query's order
    ("activity", "activity_created_idx", ("created_at",)),
    ("activity", "activity_type_idx", ("activity_type", "created_at")),
    ("activity", "activity_channel_idx", ("channel_id", "created_at")),
    ("activity", "activity_user_idx", ("user_id", "created_at")),
    ("magic_link", "magic_link_token_uq", ("token_hash",), True),
    ("admin_session_revoked", "admin_session_revoked_jti_uq", ("jti",), True),
    ("worker_heartbeat", "worker_heartbeat_worker_uq", ("worker_id",), True),
    ("dispatched_event", "dispatched_event_message_uq", ("message_id",), True),
    ("dispatched_event", "dispatched_event_created_idx", ("created_at",)),
]


def define(db) -> None:
    db.define_table(
        "activity",
        Field("created_at", "datetime", notnull=True),
        Field("platform", "string", length=32, notnull=True, default="twitch"),
        Field("activity_type", "string", length=64, notnull=True),
        Field("channel_id", "string", length=64),
        Field("channel_login", "string", length=64),
        Field("user_id", "string", length=64),
        Field("user_login", "string", length=64),
        Field("user_name", "string", length=128),
        Field("points", "integer", notnull=True, default=0),
        Field("source", "string", length=64, notnull=True),
        Field("source_id", "string", length=128),
        Field("details", "json"),
    )
    db.define_table(
        "outbox",
        Field("created_at", "datetime", notnull=True),
        Field("kind", "string", length=32, notnull=True),
        Field("activity_id", "reference activity", ondelete="SET NULL"),
        Field("url", "string", length=1024),
        Field("body", "json"),
        Field("idempotency_key", "string", length=128, notnull=True),
        Field("status", "string", length=16, notnull=True, default="pending"),
        Field("attempts", "integer", notnull=True, default=0),
        Field("next_attempt_at", "datetime", notnull=True),
        Field("claimed_until", "datetime"),
        Field("last_error", "string", length=1024),
        Field("delivered_at", "datetime"),
    )
    db.define_table(
        "magic_link",
        Field("token_hash", "string", length=64, notnull=True),
        Field("created_at", "datetime", notnull=True),
        Field("expires_at", "datetime", notnull=True),
        Field("used_at", "datetime"),
    )
    # Admin sessions ended by log-out before their expiry (their cookie copies stop working too).
    db.define_table(
        "admin_session_revoked",
        Field("jti", "string", length=64, notnull=True),
        Field("expires_at", "datetime", notnull=True),
    )
    db.define_table(
        "worker_heartbeat",
        Field("worker_id", "string", length=64, notnull=True),
        Field("host", "string", length=255),
        Field("pid", "integer"),
        Field("started_at", "datetime"),
        Field("beat_at", "datetime", notnull=True),
        Field("services", "json"),
    )
    db.define_table(  # shared.dispatch: events one module stored that another declared it consumes
        "dispatched_event",
        Field("message_id", "string", length=128, notnull=True),
        Field("event_type", "string", length=128, notnull=True),
        Field("event", "json"),
        Field("created_at", "datetime", notnull=True),
    )
