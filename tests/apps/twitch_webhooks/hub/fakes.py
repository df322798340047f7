"""Helpers of the event hub tests: the sandbox's fake Helix for WebSocket subscriptions (with
state, paged listing, refusals), service accounts and interests."""

from __future__ import annotations

import itertools

import responses

from apps.twitch_webhooks.eventsub.store import record_notification
from apps.twitch_webhooks.hub import accounts as hub_accounts
from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub import subscriptions as hub_subscriptions
from modules.sandbox.helix import FakeHelix
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, store_bot
from tests.sandbox_mock import mount

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


def twitch_subscriptions(mock: responses.RequestsMock, page_size: int = 2) -> FakeHelix:
    """The sandbox's fake Helix on the mock: eventsub/subscriptions with state, listed in pages."""
    return mount(mock, HELIX, FakeHelix(client_id=CLIENT_ID, page_size=page_size))


def subscribe_all(db, bot: str = "main", session_id: str = "session-1") -> dict[str, dict]:
    """Create the Twitch subscriptions of every interest (mocked Helix); event type → subscription."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        twitch = twitch_subscriptions(mock)
        hub_subscriptions.sync(bot, session_id)
    return {sub["type"]: sub for sub in twitch.subscriptions}


def store_event(db, subscription: dict, event: dict, message_id: str | None = None) -> str:
    """An event as either transport stores it (committed); returns its message id."""
    message_id = message_id or f"msg-{next(_message_ids)}"
    assert record_notification(db, message_id=message_id, subscription=subscription, event=event, transport="webhook")
    db.commit()
    return message_id

