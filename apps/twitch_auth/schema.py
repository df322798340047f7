"""twitch_auth's own table: pending OAuth logins (the tokens themselves are the core's)."""

from pydal import Field

INDEXES = [
    ("twitch_oauth_state", "twitch_oauth_state_hash_uq", ("state_hash",), True),
    ("twitch_oauth_state", "twitch_oauth_state_expires_idx", ("expires_at",)),
]


def define(db) -> None:
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
