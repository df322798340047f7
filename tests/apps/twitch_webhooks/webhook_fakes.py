"""Helpers of the twitch_webhooks tests: the webhook secret, posting signed messages, and a
mocked Helix (Twitch's app token endpoint and the EventSub/users endpoints)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import responses

from modules.sandbox.helix import FakeHelix
from modules.sandbox.world import TwitchUser
from modules.twitch.oauth import TokenGrant, TokenInfo
from shared import tokens
from shared.helix.client import get_helix_client
from tests.sandbox_mock import mount

SECRET = "webhook-secret-0123456789"
WEBHOOK = "/twitch_webhooks/webhook"
CALLBACK = "http://127.0.0.1:8000/twitch_webhooks/webhook"  # PUBLIC_URL of the tests + the path
HELIX = "https://api.twitch.tv/helix"
ID_URL = "https://id.twitch.tv/oauth2"
CLIENT_ID = "test-client-id"


def webhook_settings(configure, **extra: str):
    """The receiver configured with SECRET (and the Twitch app, for Helix)."""
    return configure(TWITCH_WEBHOOK_SECRET=SECRET, TWITCH_APP_ID=CLIENT_ID, TWITCH_APP_SECRET="test-client-secret",
                     **extra)


def post(client, message: tuple[dict, bytes], status: int | None = None, **headers: str):
    """POST a (headers, body) message to the receiver; extra headers replace the message's."""
    sent, body = message
    sent = {**sent, **{name.replace("_", "-"): value for name, value in headers.items()}}
    return client.post(WEBHOOK, params=body, headers=sent, content_type="application/json", status=status,
                       expect_errors=status is None or status >= 400)


def mock_app_token(mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, f"{ID_URL}/token",
             json={"access_token": "app-token-0001", "expires_in": 5000000, "token_type": "bearer"})


def store_broadcaster(db, user_id: str = "1337", login: str = "cooler_user", scopes=()) -> None:
    """The broadcaster logged in to WaddleBot earlier, granting `scopes` (committed)."""
    tokens.store_user_token(db, TokenGrant("user-access-0001", 14400, "user-refresh-0001", tuple(scopes)),
                            TokenInfo(CLIENT_ID, login, user_id, tuple(scopes), 14400))
    db.commit()


def helix_user(user_id: str = "1337", login: str = "cooler_user") -> dict:
    return TwitchUser(user_id, login, "affiliate").helix()


@contextlib.contextmanager
def fake_twitch(configure, **settings: str) -> Iterator[FakeHelix]:
    """The app configured against the sandbox's fake Helix (two users, subscriptions listed in pages
    of 2); calls to 127.0.0.1 (a live server) pass through."""
    webhook_settings(configure, **settings)
    get_helix_client().sleep = lambda seconds: None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock_app_token(mock)
        users = {"1337": helix_user("1337", "cooler_user"), "42": helix_user("42", "other_channel")}
        yield mount(mock, HELIX, FakeHelix(client_id=CLIENT_ID, page_size=2, users=users,
                                             default_callback=CALLBACK))
