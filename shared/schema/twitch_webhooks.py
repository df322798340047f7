"""EventSub area: the Twitch channels the system follows."""

from pydal import Field

INDEXES = [
    ("twitch_channel", "twitch_channel_broadcaster_uq", ("broadcaster_id",), True),
    ("twitch_channel", "twitch_channel_login_idx", ("login",)),
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
