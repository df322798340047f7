"""Helpers of the twitch_webhooks tests: the webhook secret, posting signed messages, and a
mocked Helix (Twitch's app token endpoint and the EventSub/users endpoints)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import responses

from modules.twitch.oauth import TokenGrant, TokenInfo
from shared import tokens
from shared.helix.client import get_helix_client

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
    return {"id": user_id, "login": login, "display_name": login.capitalize(), "type": "", "broadcaster_type":
            "affiliate", "description": "", "profile_image_url": "", "offline_image_url": "", "view_count": 0,
            "created_at": "2016-12-14T20:32:28Z"}


class FakeTwitch:
    """Twitch's EventSub subscription endpoints and users endpoint, with state: what a test
    subscribed, listed in pages of `page_size`, plus the calls received."""

    def __init__(self, mock: responses.RequestsMock, page_size: int = 2):
        self.subscriptions: list[dict] = []
        self.users = {"1337": helix_user("1337", "cooler_user"), "42": helix_user("42", "other_channel")}
        self.refusals: dict[str, tuple[int, str]] = {}  # type → (status, message) answered to a create
        self.on_create = None  # called with the new subscription before Twitch's reply (a fast challenge)
        self.created: list[dict] = []  # the request bodies of creations (with their secret)
        self.deleted: list[str] = []
        self.page_size = page_size
        mock_app_token(mock)
        url = f"{HELIX}/eventsub/subscriptions"
        mock.add_callback(responses.GET, url, callback=self._list)
        mock.add_callback(responses.POST, url, callback=self._create)
        mock.add_callback(responses.DELETE, url, callback=self._delete)
        mock.add_callback(responses.GET, f"{HELIX}/users", callback=self._users)

    def add(self, event_type: str, version: str, condition: dict, status: str = "enabled",
            callback: str = CALLBACK, method: str = "webhook") -> dict:
        """A subscription that already exists at Twitch."""
        subscription = {"id": f"existing-{len(self.subscriptions)}", "status": status, "type": event_type,
                        "version": version, "cost": 0, "condition": condition,
                        "transport": {"method": method, "callback": callback}, "created_at": "2024-01-01T00:00:00Z"}
        self.subscriptions.append(subscription)
        return subscription

    @staticmethod
    def _json(status: int, body: dict | None) -> tuple[int, dict, str]:
        return status, {"Content-Type": "application/json"}, json.dumps(body) if body is not None else ""

    def _list(self, request):
        query = parse_qs(urlsplit(request.url).query)
        start = int(query.get("after", ["0"])[0])
        page = self.subscriptions[start:start + self.page_size]
        more = start + self.page_size < len(self.subscriptions)
        return self._json(200, {"data": page, "total": len(self.subscriptions),
                                "total_cost": sum(item["cost"] for item in self.subscriptions), "max_total_cost": 10000,
                                "pagination": {"cursor": str(start + self.page_size)} if more else {}})

    def _create(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        if body["type"] in self.refusals:
            status, message = self.refusals[body["type"]]
            return self._json(status, {"error": "Refused", "status": status, "message": message})
        transport = {key: value for key, value in body["transport"].items() if key != "secret"}
        if any(item["type"] == body["type"] and item["version"] == body["version"]
               and item["condition"] == body["condition"]
               and item["transport"] == transport for item in self.subscriptions):
            return self._json(409, {"error": "Conflict", "status": 409, "message": "subscription already exists"})
        subscription = {"id": f"new-{len(self.created)}", "status": "webhook_callback_verification_pending",
                        "type": body["type"], "version": body["version"], "cost": 1, "condition": body["condition"],
                        "transport": transport, "created_at": "2024-05-01T12:00:00.123456789Z"}
        if self.on_create is not None:
            self.on_create(subscription, body["transport"]["secret"])
        self.subscriptions.append(subscription)
        return self._json(202, {"data": [subscription], "total": len(self.subscriptions), "total_cost": 1,
                                "max_total_cost": 10000})

    def _delete(self, request):
        twitch_id = parse_qs(urlsplit(request.url).query)["id"][0]
        self.deleted.append(twitch_id)
        kept = [item for item in self.subscriptions if item["id"] != twitch_id]
        if len(kept) == len(self.subscriptions):
            return self._json(404, {"error": "Not Found", "status": 404, "message": "subscription not found"})
        self.subscriptions = kept
        return self._json(204, None)

    def _users(self, request):
        query = parse_qs(urlsplit(request.url).query)
        found = [user for user in self.users.values()
                 if user["id"] in query.get("id", []) or user["login"] in query.get("login", [])]
        return self._json(200, {"data": found})


@contextlib.contextmanager
def fake_twitch(configure, **settings: str) -> Iterator[FakeTwitch]:
    """The app configured against FakeTwitch; calls to 127.0.0.1 (a live server) pass through."""
    webhook_settings(configure, **settings)
    get_helix_client().sleep = lambda seconds: None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield FakeTwitch(mock)
