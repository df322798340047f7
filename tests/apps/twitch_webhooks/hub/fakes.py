"""Helpers of the event hub tests: Twitch's EventSub subscription endpoints for WebSocket
subscriptions (with state, paged listing, refusals), service accounts and interests."""

from __future__ import annotations

import itertools
import json
import threading
from urllib.parse import parse_qs, urlsplit

import responses

from apps.twitch_webhooks.eventsub.store import record_notification
from apps.twitch_webhooks.hub import accounts as hub_accounts
from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub import subscriptions as hub_subscriptions
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, store_bot

HELIX = "https://api.twitch.tv/helix"
SUBSCRIPTIONS = f"{HELIX}/eventsub/subscriptions"
BOT_USER_ID = "999"
BROADCASTER = "1001"
_message_ids = itertools.count(1)


def hub_settings(configure, **extra: str):
    """Twitch configured (the Helix pipeline needs a Client-Id) and fast Helix retries."""
    values = {"TWITCH_APP_ID": CLIENT_ID, "TWITCH_APP_SECRET": "test-client-secret", "HELIX_MAX_RETRIES": "1",
              "HUB_ALLOW_PRIVATE_WEBHOOKS": "true", **extra}
    return configure(**values)


def make_bot(db, name: str = "main", user_id: str = BOT_USER_ID, access: str = "bot-access-0001") -> None:
    store_bot(db, name=name, user_id=user_id, login=f"{name}bot", access=access)


def make_account(db, name: str = "svc") -> tuple[object, str]:
    """(ServiceAccount, secret), committed."""
    account, secret = hub_accounts.create_account(db, name)
    db.commit()
    return hub_accounts.authenticate(account["client_id"], secret, db), secret


def make_interest(db, account, event_type: str = "channel.follow", broadcaster: str = BROADCASTER,
                  transport: str = "websocket", webhook_url: str | None = None, bot: str = "main") -> tuple[dict, str]:
    payload = {"bot_account_id": bot, "event_type": event_type, "broadcaster_user_id": broadcaster,
               "transport": transport}
    if webhook_url:
        payload["webhook_url"] = webhook_url
    interest, secret = hub_interests.create_interest(db, account.id, hub_interests.parse_interest(payload))
    db.commit()
    return interest, secret


def twitch_sub(sub_type: str, condition: dict, *, version: str = "1", sub_id: str, status: str = "enabled",
               method: str = "websocket", session_id: str | None = "session-1") -> dict:
    transport = {"method": method, "session_id": session_id} if method == "websocket" else {
        "method": "webhook", "callback": "https://example.com/twitch_webhooks/webhook"}
    return {"id": sub_id, "status": status, "type": sub_type, "version": version, "condition": condition,
            "transport": transport, "created_at": "2024-01-01T00:00:00Z", "cost": 0}


class FakeTwitchSubscriptions:
    """GET (paged), POST and DELETE eventsub/subscriptions on a `responses` mock. `refuse` maps an
    event type to (status, message) for POSTs; `calls` keeps (method, params, body, token)."""

    def __init__(self, mock: responses.RequestsMock, page_size: int = 2):
        self.subs: dict[str, dict] = {}
        self.page_size = page_size
        self.refuse: dict[str, tuple[int, str]] = {}
        self.calls: list[tuple[str, dict, dict | None, str]] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        for method in (responses.GET, responses.POST, responses.DELETE):
            mock.add_callback(method, SUBSCRIPTIONS, callback=self._handle)

    def add(self, sub: dict) -> dict:
        self.subs[sub["id"]] = sub
        return sub

    def created(self) -> list[dict]:
        return [body for method, _, body, _ in self.calls if method == "POST"]

    def deleted(self) -> list[str]:
        return [params["id"][0] for method, params, _, _ in self.calls if method == "DELETE"]

    def _handle(self, request):
        params = parse_qs(urlsplit(request.url).query)
        body = json.loads(request.body) if request.body else None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.lock:
            self.calls.append((request.method, params, body, token))
            return getattr(self, f"_{request.method.lower()}")(params, body)

    def _get(self, params: dict, body) -> tuple:
        items = [sub for sub in self.subs.values() if sub["type"] in params.get("type", [sub["type"]])]
        start = int(params.get("after", ["0"])[0])
        page = items[start:start + self.page_size]
        cursor = {"cursor": str(start + self.page_size)} if start + self.page_size < len(items) else {}
        return 200, {}, json.dumps({"data": page, "total": len(items), "total_cost": 0, "max_total_cost": 10,
                                    "pagination": cursor})

    def _post(self, params: dict, body: dict) -> tuple:
        if body["type"] in self.refuse:
            status, message = self.refuse[body["type"]]
            return status, {}, json.dumps({"error": "refused", "status": status, "message": message})
        session = body["transport"]["session_id"]
        sub = self.add(twitch_sub(body["type"], body["condition"], version=body["version"],
                                  sub_id=f"ws-sub-{next(self._ids)}", session_id=session))
        return 202, {}, json.dumps({"data": [sub], "total": len(self.subs), "total_cost": 0, "max_total_cost": 10})

    def _delete(self, params: dict, body) -> tuple:
        removed = self.subs.pop(params["id"][0], None)
        return (204, {}, "") if removed else (404, {}, json.dumps({"message": "subscription not found"}))


def subscribe_all(db, bot: str = "main", session_id: str = "session-1") -> dict[str, dict]:
    """Create the Twitch subscriptions of every interest (mocked Helix); event type → subscription."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        twitch = FakeTwitchSubscriptions(mock)
        hub_subscriptions.sync(bot, session_id)
    return {sub["type"]: sub for sub in twitch.subs.values()}


def store_event(db, subscription: dict, event: dict, message_id: str | None = None) -> str:
    """An event as either transport stores it (committed); returns its message id."""
    message_id = message_id or f"msg-{next(_message_ids)}"
    assert record_notification(db, message_id=message_id, subscription=subscription, event=event, transport="webhook")
    db.commit()
    return message_id

