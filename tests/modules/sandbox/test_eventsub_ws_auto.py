"""The fake EventSub WebSocket server in the sandbox's mode: every socket is welcomed with its own
session, kept alive, and gets the notifications of the subscriptions made for its session."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from modules.sandbox.eventsub_ws import FakeEventSub, ws_subscription


@pytest.fixture
def server():
    fake = FakeEventSub(auto=True, keepalive_seconds=0.2)
    yield fake
    fake.stop()


def test_each_socket_gets_its_own_session_keepalives_and_its_notifications(server):
    with connect(server.url) as first, connect(server.url) as second:
        welcome = json.loads(first.recv(5))
        other = json.loads(second.recv(5))
        assert welcome["metadata"]["message_type"] == "session_welcome"
        session = welcome["payload"]["session"]
        assert session["status"] == "connected" and session["keepalive_timeout_seconds"] == 0.2
        assert session["id"] != other["payload"]["session"]["id"]
        assert json.loads(first.recv(5))["metadata"]["message_type"] == "session_keepalive"
        subscription = ws_subscription("channel.cheer", "1", {"broadcaster_user_id": "1001"}, session["id"])
        assert server.notify_session(subscription, {"bits": 100})
        message = next(item for item in (json.loads(first.recv(5)) for _ in range(5))
                       if item["metadata"]["message_type"] == "notification")
        assert message["metadata"]["subscription_type"] == "channel.cheer"
        assert message["payload"] == {"subscription": subscription, "event": {"bits": 100}}
    gone = ws_subscription("channel.cheer", "1", {"broadcaster_user_id": "1001"}, "no-such-session")
    assert not server.notify_session(gone, {"bits": 1})
