"""Twitch tables several modules share: the stored tokens (users and bot accounts, the token
service's) and the channels the system follows."""

from pydal import Field

INDEXES = [
    ("twitch_token", "twitch_token_account_uq", ("account",), True),
    ("twitch_token", "twitch_token_user_idx", ("user_id",)),
    ("twitch_channel", "twitch_channel_broadcaster_uq", ("broadcaster_id",), True),
    ("twitch_channel", "twitch_channel_login_idx", ("login",)),
]


def define(db) -> None:
    # One row per account: "user:<twitch user id>" for people who logged in, "bot:<name>" for
    # bot accounts. Both tokens are Fernet-encrypted (shared.crypto); `version` grows each time
    # the tokens change, so concurrent refreshers can tell that someone else already refreshed.
    db.define_table(
        "twitch_token",
        Field("account", "string", length=80, notnull=True),
        Field("bot_name", "string", length=32),
        Field("user_id", "string", length=64, notnull=True),
        Field("login", "string", length=64),
        Field("scopes", "list:string"),
        Field("access_token", "text", notnull=True),
        Field("refresh_token", "text"),
        Field("expires_at", "datetime", notnull=True),
        Field("version", "integer", notnull=True, default=1),
        Field("valid", "boolean", notnull=True, default=True),
        Field("needs_relogin", "boolean", notnull=True, default=False),
        Field("last_validated_at", "datetime"),
        Field("refreshed_at", "datetime"),
        Field("created_at", "datetime", notnull=True),
        Field("updated_at", "datetime", notnull=True),
    )
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
