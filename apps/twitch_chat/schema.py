"""Chat area: !reco tickets, recommendations (with their change events for live updates), the
state of the chat connection (written by the worker, read by health), the chat messages whose
command ran (dedup across transports) and the chat events EventSub brought."""

from pydal import Field

from shared import overlay_links

RECOMMENDATION_STATUSES = ("new", "accepted", "played", "rejected")

INDEXES = [
    ("reco_ticket", "reco_ticket_token_uq", ("token_hash",), True),
    ("reco_ticket", "reco_ticket_open_uq", ("open_key",), True),
    ("reco_ticket", "reco_ticket_user_idx", ("user_id", "created_at")),
    ("reco_ticket", "reco_ticket_expires_idx", ("expires_at",)),
    ("recommendation", "recommendation_ticket_uq", ("ticket_id",), True),
    ("recommendation", "recommendation_status_idx", ("status", "created_at")),
    ("recommendation", "recommendation_channel_idx", ("channel_login", "created_at")),
    ("recommendation", "recommendation_metadata_idx", ("metadata_status", "metadata_next_at")),
    ("recommendation_event", "recommendation_event_created_idx", ("created_at",)),
    ("chat_connection", "chat_connection_bot_uq", ("bot",), True),
    # a chat message runs its command once, whichever transport (IRC, EventSub) brought it first
    ("chat_command_seen", "chat_command_seen_message_uq", ("message_id",), True),
    ("chat_command_seen", "chat_command_seen_created_idx", ("created_at",)),
    ("chat_event", "chat_event_message_uq", ("eventsub_message_id",), True),
    ("chat_event", "chat_event_channel_idx", ("channel_id", "id")),
    ("reco_overlay_link", "reco_overlay_link_token_uq", ("token_hash",), True),
]


def _viewer_fields() -> list[Field]:
    """Who asked, in which channel, with what comment: a ticket's and its recommendation's columns."""
    return [
        Field("channel_id", "string", length=64, notnull=True),
        Field("channel_login", "string", length=64, notnull=True),
        Field("user_id", "string", length=64, notnull=True),
        Field("user_login", "string", length=64, notnull=True),
        Field("user_name", "string", length=128),
        Field("comment", "string", length=500),
    ]


def define(db) -> None:
    db.define_table(
        "reco_ticket",
        # the link's token is never stored: its SHA-256 finds the ticket, and the token itself is
        # kept encrypted only so that a second !reco can repeat the same link
        Field("token_hash", "string", length=64, notnull=True),
        Field("token_encrypted", "text", notnull=True),
        # "<channel_id>:<user_id>" while the ticket is open, NULL once used or expired: the unique
        # index allows one open ticket per viewer and channel
        Field("open_key", "string", length=160),
        *_viewer_fields(),
        Field("created_at", "datetime", notnull=True),
        Field("expires_at", "datetime", notnull=True),
        Field("used_at", "datetime"),
    )
    db.define_table(
        "recommendation",
        Field("ticket_id", "reference reco_ticket", ondelete="SET NULL"),
        *_viewer_fields(),
        Field("platform", "string", length=16, notnull=True),
        Field("kind", "string", length=16, notnull=True),
        Field("media_id", "string", length=64, notnull=True),
        Field("url", "string", length=255, notnull=True),
        Field("title", "string", length=500),
        Field("author_name", "string", length=255),
        Field("thumbnail_url", "string", length=1024),
        Field("metadata_status", "string", length=16, notnull=True, default="pending"),
        Field("metadata_attempts", "integer", notnull=True, default=0),
        Field("metadata_next_at", "datetime"),
        Field("status", "string", length=16, notnull=True, default="new"),
        Field("activity_id", "reference activity", ondelete="SET NULL"),
        Field("created_at", "datetime", notnull=True),
        Field("updated_at", "datetime", notnull=True),
    )
    db.define_table(
        "recommendation_event",
        # not a reference: the event of a deletion outlives its recommendation
        Field("recommendation_id", "integer", notnull=True),
        Field("action", "string", length=16, notnull=True),
        Field("created_at", "datetime", notnull=True),
    )
    db.define_table(
        "chat_connection",
        Field("bot", "string", length=64, notnull=True),
        Field("status", "string", length=16, notnull=True),
        Field("detail", "string", length=500),
        Field("channels", "json"),
        # irc or eventsub, and why (CHAT_TRANSPORT and the bot's grants)
        Field("transport", "string", length=16),
        Field("transport_reason", "string", length=500),
        Field("updated_at", "datetime", notnull=True),
    )
    db.define_table(
        "chat_command_seen",
        Field("message_id", "string", length=128, notnull=True),
        Field("transport", "string", length=16, notnull=True),
        Field("created_at", "datetime", notnull=True),
    )
    # chat events over EventSub other than messages (notifications, deletions, clears), once
    # per EventSub message id
    db.define_table(
        "chat_event",
        Field("eventsub_message_id", "string", length=128, notnull=True),
        Field("event_type", "string", length=100, notnull=True),
        Field("channel_id", "string", length=64, notnull=True),
        Field("user_id", "string", length=64),
        Field("chat_message_id", "string", length=128),
        Field("notice_type", "string", length=64),
        Field("activity_id", "reference activity", ondelete="SET NULL"),
        Field("event", "json"),
        Field("received_at", "datetime", notnull=True),
    )
    # secret links that open the recommendation overlay without a cookie (OBS browser sources)
    overlay_links.define_table(db, "reco_overlay_link")
