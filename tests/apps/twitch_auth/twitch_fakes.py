"""Test doubles of Twitch's OAuth endpoints and helpers to store accounts (used by the
twitch_auth, token service and OAuth tests)."""

from __future__ import annotations

import datetime

import responses

from modules.twitch.oauth import TokenGrant, TokenInfo
from shared import tokens
from shared.db import utcnow

ID_URL = "https://id.twitch.tv/oauth2"
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-value"
USER_SCOPES = ("channel:read:subscriptions", "user:read:email")


def twitch_settings(configure, **extra: str):
    return configure(TWITCH_APP_ID=CLIENT_ID, TWITCH_APP_SECRET=CLIENT_SECRET, **extra)


def token_body(access: str = "access-new-0001", refresh: str = "refresh-new-0001", expires_in: int = 14400,
               scopes=USER_SCOPES) -> dict:
    return {"access_token": access, "refresh_token": refresh, "expires_in": expires_in, "scope": list(scopes),
            "token_type": "bearer"}


def validate_body(user_id: str = "1234", login: str = "alice", scopes=USER_SCOPES, expires_in: int = 14000) -> dict:
    return {"client_id": CLIENT_ID, "login": login, "scopes": list(scopes), "user_id": user_id,
            "expires_in": expires_in}


def store_user(db, user_id: str = "1234", login: str = "alice", access: str = "access-old-0001",
               refresh: str = "refresh-old-0001", expires_in: int = 14400, scopes=USER_SCOPES) -> None:
    """A user who logged in earlier, committed."""
    tokens.store_user_token(db, TokenGrant(access, expires_in, refresh, tuple(scopes)),
                            TokenInfo(CLIENT_ID, login, user_id, tuple(scopes), expires_in))
    db.commit()


def store_bot(db, name: str = "main", user_id: str = "999", login: str = "waddlebot", access: str = "bot-access-0001",
              refresh: str = "bot-refresh-0001", expires_in: int = 14400) -> None:
    tokens.store_bot_token(db, name, TokenGrant(access, expires_in, refresh, tokens.BOT_SCOPES),
                           TokenInfo(CLIENT_ID, login, user_id, tokens.BOT_SCOPES, expires_in))
    db.commit()


def expire_soon(db, account: str, seconds: int = 60) -> None:
    """Make the stored token expire within the refresh margin."""
    db(db.twitch_token.account == account).update(expires_at=utcnow() + datetime.timedelta(seconds=seconds))
    db.commit()


def token_calls(mock: responses.RequestsMock) -> list:
    return [call for call in mock.calls if call.request.url == f"{ID_URL}/token"]
