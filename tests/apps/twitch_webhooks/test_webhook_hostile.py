"""Unsigned requests an attacker can send the webhook receiver: nothing of theirs is kept, no 5xx."""

from __future__ import annotations

import json

import pytest

from modules.twitch import eventsub as wire
from shared.cache import get_local_cache
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, post, webhook_settings


@pytest.fixture
def receiver(configure, client):
    webhook_settings(configure)
    return client


def unsigned(subscription_id: str) -> tuple[dict, bytes]:
    headers, _ = wire.notification(SECRET, "channel.follow")
    body = json.dumps({"subscription": {"id": subscription_id, "type": "channel.follow"}, "event": {}}).encode()
    return headers, body  # the headers' signature is over another body


@pytest.mark.parametrize("subscription_id", ["a" * 200_000, "made-up-{}"])
def test_unsigned_messages_leave_nothing_in_the_process(receiver, db, subscription_id):
    for number in range(50):
        post(receiver, unsigned(subscription_id.format(number)), 403)
    secrets = get_local_cache("subscription-secrets")
    assert (len(secrets), secrets.bytes) == (0, 0)
    assert db(db.eventsub_event).count() == 0


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000])
def test_deeply_nested_json_is_refused_without_an_error(receiver, db, body):
    headers, _ = wire.notification(SECRET, "channel.follow")
    post(receiver, (headers, body), 403)
    headers[wire.MESSAGE_SIGNATURE] = wire.sign(SECRET, headers[wire.MESSAGE_ID], headers[wire.MESSAGE_TIMESTAMP], body)
    assert "JSON" in post(receiver, (headers, body), 400).json["message"]


def test_a_signed_event_with_an_overlong_login_is_stored_alike_on_every_engine(receiver, db):
    login = "l" * 100
    event = {**wire.sample_event("channel.follow"), "user_login": login, "user_id": "9" * 80}
    post(receiver, wire.notification(SECRET, "channel.follow", event=event), 200)
    db.rollback()
    activity = db(db.activity).select().first()
    assert (activity.user_login, activity.user_id) == (login[:64], "9" * 64)
    assert db(db.eventsub_event).select().first().event["user_login"] == login  # the raw event keeps it whole
