"""modules.twitch.eventsub: the signature, timestamps, the standard set and the simulator's messages."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json

import pytest

from modules.twitch import eventsub as wire

UTC = datetime.UTC


def test_signature_is_hmac_sha256_of_id_timestamp_and_raw_body():
    body = b'{"subscription": {}, "event": {}}'
    expected = "sha256=" + hmac.new(b"s3cre7-value", b"id-1" + b"2023-07-19T14:56:51.634234626Z" + body,
                                    hashlib.sha256).hexdigest()
    assert wire.sign("s3cre7-value", "id-1", "2023-07-19T14:56:51.634234626Z", body) == expected
    assert wire.verify_signature("s3cre7-value", "id-1", "2023-07-19T14:56:51.634234626Z", body, expected)


@pytest.mark.parametrize(("secret", "message_id", "timestamp", "body", "signature"), [
    ("other-secret", "id-1", "t", b"{}", None), ("s3cre7-value", "id-2", "t", b"{}", None),
    ("s3cre7-value", "id-1", "t2", b"{}", None), ("s3cre7-value", "id-1", "t", b"{ }", None),
    ("s3cre7-value", "id-1", "t", b"{}", ""), ("s3cre7-value", "id-1", "t", b"{}", "sha256=zz"),
    ("", "id-1", "t", b"{}", None),
])
def test_signature_mismatches(secret, message_id, timestamp, body, signature):
    good = wire.sign("s3cre7-value", "id-1", "t", b"{}")
    assert not wire.verify_signature(secret, message_id, timestamp, body, good if signature is None else signature)


@pytest.mark.parametrize(("value", "expected"), [
    ("2023-07-19T14:56:51.634234626Z", datetime.datetime(2023, 7, 19, 14, 56, 51, 634234, UTC)),
    ("2023-07-19T14:56:51Z", datetime.datetime(2023, 7, 19, 14, 56, 51, tzinfo=UTC)),
    ("2023-07-19T16:56:51.5+02:00", datetime.datetime(2023, 7, 19, 14, 56, 51, 500000, UTC)),
    ("2023-07-19T14:56:51", None), ("yesterday", None), ("", None), (None, None),
])
def test_parse_timestamp(value, expected):
    assert wire.parse_timestamp(value) == expected


def test_freshness_window_both_ways():
    now = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert wire.is_fresh(now - datetime.timedelta(seconds=600), 600, now)
    assert not wire.is_fresh(now - datetime.timedelta(seconds=601), 600, now)
    assert not wire.is_fresh(now + datetime.timedelta(seconds=601), 600, now)


def test_format_timestamp_round_trips_with_nanoseconds():
    moment = datetime.datetime(2024, 5, 1, 12, 0, 1, 123456, UTC)
    assert wire.format_timestamp(moment) == "2024-05-01T12:00:01.123456000Z"
    assert wire.parse_timestamp(wire.format_timestamp(moment)) == moment


BROADCASTER = {"broadcaster_user_id", "broadcaster_user_login", "broadcaster_user_name"}
USER = {"user_id", "user_login", "user_name"}
SHAPES = {
    "channel.follow": USER | BROADCASTER | {"followed_at"},
    "channel.subscribe": USER | BROADCASTER | {"tier", "is_gift"},
    "channel.subscription.message": USER | BROADCASTER | {"tier", "message", "cumulative_months", "streak_months",
                                                          "duration_months"},
    "channel.subscription.gift": USER | BROADCASTER | {"total", "tier", "cumulative_total", "is_anonymous"},
    "channel.cheer": USER | BROADCASTER | {"is_anonymous", "message", "bits"},
    "channel.raid": {"from_broadcaster_user_id", "from_broadcaster_user_login", "from_broadcaster_user_name",
                     "to_broadcaster_user_id", "to_broadcaster_user_login", "to_broadcaster_user_name", "viewers"},
    "channel.ban": USER | BROADCASTER | {"moderator_user_id", "moderator_user_login", "moderator_user_name",
                                         "reason", "banned_at", "ends_at", "is_permanent"},
    "stream.online": BROADCASTER | {"id", "type", "started_at"},
    "stream.offline": BROADCASTER,
}


@pytest.mark.parametrize("event_type", sorted(SHAPES))
def test_sample_events_have_twitchs_fields(event_type):
    event = wire.sample_event(event_type, broadcaster_id="1337")
    assert set(event) == SHAPES[event_type]
    assert all(isinstance(value, str) for name, value in event.items() if name.endswith("_id"))


@pytest.mark.parametrize("event_type", ["channel.cheer", "channel.subscription.gift"])
def test_anonymous_samples_have_no_user(event_type):
    event = wire.sample_event(event_type, anonymous=True)
    assert event["is_anonymous"] is True and {event[name] for name in USER} == {None}


def test_standard_set_conditions():
    assert [name for name, _ in wire.STANDARD_TYPES][:2] == ["channel.follow", "channel.subscribe"]
    assert dict(wire.STANDARD_TYPES)["channel.follow"] == "2"
    assert wire.standard_condition("channel.follow", "7") == {"broadcaster_user_id": "7", "moderator_user_id": "7"}
    assert wire.standard_condition("channel.raid", "7") == {"to_broadcaster_user_id": "7"}
    assert wire.standard_condition("stream.online", "7") == {"broadcaster_user_id": "7"}


def test_notification_message_is_shaped_and_signed_like_twitchs():
    headers, body = wire.notification("s3cre7-value", "channel.follow", message_id="m-1",
                                      timestamp="2024-05-01T12:00:00.000000000Z", callback="https://cb.example/x")
    payload = json.loads(body)
    assert set(payload) == {"subscription", "event"}
    subscription = payload["subscription"]
    assert set(subscription) == {"id", "status", "type", "version", "cost", "condition", "transport", "created_at"}
    assert (subscription["type"], subscription["version"], subscription["status"]) == ("channel.follow", "2", "enabled")
    assert subscription["transport"] == {"method": "webhook", "callback": "https://cb.example/x"}
    assert headers[wire.MESSAGE_TYPE] == "notification" and headers[wire.SUBSCRIPTION_TYPE] == "channel.follow"
    assert headers[wire.SUBSCRIPTION_VERSION] == "2" and headers[wire.MESSAGE_ID] == "m-1"
    assert wire.verify_signature("s3cre7-value", "m-1", "2024-05-01T12:00:00.000000000Z", body,
                                 headers[wire.MESSAGE_SIGNATURE])


def test_verification_and_revocation_messages():
    headers, body = wire.verification("s3cre7-value", "channel.cheer", challenge="abc")
    payload = json.loads(body)
    assert payload["challenge"] == "abc" and headers[wire.MESSAGE_TYPE] == wire.VERIFICATION
    assert payload["subscription"]["status"] == "webhook_callback_verification_pending"
    headers, body = wire.revocation("s3cre7-value", reason="user_removed", subscription_id="sub-1")
    assert json.loads(body) == {"subscription": {**json.loads(body)["subscription"], "id": "sub-1",
                                                 "status": "user_removed"}}
    assert headers[wire.MESSAGE_TYPE] == wire.REVOCATION
