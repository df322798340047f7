"""twitch_auth area: stored Twitch tokens (users and bot accounts) and pending OAuth logins."""

from pydal import Field

INDEXES = [
    ("twitch_token", "twitch_token_account_uq", ("account",), True),
    ("twitch_token", "twitch_token_user_idx", ("user_id",)),
    ("twitch_oauth_state", "twitch_oauth_state_hash_uq", ("state_hash",), True),
    ("twitch_oauth_state", "twitch_oauth_state_expires_idx", ("expires_at",)),
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
    # A login in progress: the state sent to Twitch is stored as a digest, bound to a random
    # value kept in the browser's session, and used at most once before `expires_at`.
    db.define_table(
        "twitch_oauth_state",
        Field("state_hash", "string", length=64, notnull=True),
        Field("session_hash", "string", length=64, notnull=True),
        Field("scopes", "list:string"),
        Field("next_url", "string", length=512),
        Field("bot_name", "string", length=32),
        Field("created_at", "datetime", notnull=True),
        Field("expires_at", "datetime", notnull=True),
        Field("used_at", "datetime"),
    )
