"""POST /twitch_webhooks/webhook: signature, replay window, dedup, challenge, revocation, errors."""

from __future__ import annotations

import datetime
import json

import pytest

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch import eventsub as wire
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, post, webhook_settings


@pytest.fixture
def receiver(configure, client):
    webhook_settings(configure)
    return client


def _counts(db) -> tuple[int, int, int]:
    db.rollback()
    return db(db.eventsub_event).count(), db(db.activity).count(), db(db.outbox).count()


def test_good_signature_stores_event_activity_and_outbox(receiver, db):
    headers, body = wire.notification(SECRET, "channel.follow")
    reply = post(receiver, (headers, body), 200)
    assert reply.json == {"status": "stored", "message_id": headers[wire.MESSAGE_ID]}
    assert _counts(db) == (1, 1, 1)
    outbox = db(db.outbox).select().first()
    assert (outbox.kind, outbox.status) == ("reputation", "not_forwarded")


def test_outbox_row_waits_for_delivery_when_reputation_is_configured(configure, client, db):
    webhook_settings(configure, REPUTATION_API_URL="https://reputation.example.test/activities")
    post(client, wire.notification(SECRET, "channel.subscribe"), 200)
    row = db(db.outbox).select().first()
    assert (row.status, row.activity_id) == ("pending", db(db.activity).select().first().id)


@pytest.mark.parametrize("change", [
    {wire.MESSAGE_SIGNATURE: "sha256=" + "0" * 64},
    {wire.MESSAGE_SIGNATURE: ""},
    {wire.MESSAGE_SIGNATURE: "md5=abc"},
    {wire.MESSAGE_ID: ""},
])
def test_bad_or_missing_signature_is_refused(receiver, db, change):
    headers, body = wire.notification(SECRET, "channel.follow")
    headers = {name: value for name, value in {**headers, **change}.items() if value}
    reply = post(receiver, (headers, body), 403)
    assert reply.json["status"] == 403
    assert _counts(db) == (0, 0, 0)


def test_wrong_secret_is_refused(receiver, db):
    post(receiver, wire.notification("another-secret-0123456789", "channel.follow"), 403)
    assert _counts(db) == (0, 0, 0)


def test_no_secret_configured_refuses_everything(configure, client, db):
    configure(TWITCH_WEBHOOK_SECRET="")
    post(client, wire.notification("", "channel.follow"), 403)
    assert _counts(db) == (0, 0, 0)


def test_tampered_body_is_refused(receiver, db):
    headers, body = wire.notification(SECRET, "channel.cheer")
    tampered = body.replace(b'"bits": ', b'"bits": 9')
    assert tampered != body
    post(receiver, (headers, tampered), 403)
    assert _counts(db) == (0, 0, 0)


def test_reserialised_json_body_is_refused(receiver, db):
    """The signature covers the raw bytes: the same JSON written differently is not what was signed."""
    headers, body = wire.notification(SECRET, "channel.follow")
    reserialised = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True).encode()
    assert json.loads(reserialised) == json.loads(body) and reserialised != body
    post(receiver, (headers, reserialised), 403)
    assert _counts(db) == (0, 0, 0)


def _at(minutes: float) -> str:
    return wire.format_timestamp(datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minutes))


@pytest.mark.parametrize(("age", "status"), [
    (9, 200), (11, 403), (-11, 403), ("yesterday", 403), ("2024-01-01T10:00:00", 403),
])
def test_timestamp_window(receiver, db, age, status):
    timestamp = _at(age) if isinstance(age, int) else age  # minutes old, computed when the test runs
    post(receiver, wire.notification(SECRET, "channel.follow", timestamp=timestamp), status)
    assert _counts(db)[0] == (1 if status == 200 else 0)


def test_timestamp_window_follows_the_setting(configure, client, db):
    webhook_settings(configure, EVENTSUB_MAX_AGE_SECONDS="60")
    post(client, wire.notification(SECRET, "channel.follow", timestamp=_at(2)), 403)


def test_duplicate_message_id_is_acknowledged_once_stored(receiver, db):
    message = wire.notification(SECRET, "channel.raid")
    assert post(receiver, message, 200).json["status"] == "stored"
    assert post(receiver, message, 200).json["status"] == "duplicate"
    resent = wire.notification(SECRET, "channel.raid", message_id=message[0][wire.MESSAGE_ID])
    assert post(receiver, resent, 200).json["status"] == "duplicate"
    assert _counts(db) == (1, 1, 1)


def test_challenge_answers_text_and_enables_the_subscription(receiver, db):
    headers, body = wire.verification(SECRET, "channel.cheer", challenge="pogchamp-kappa-360noscope-vohiyo")
    reply = post(receiver, (headers, body), 200)
    assert reply.content_type == "text/plain"
    assert reply.body == b"pogchamp-kappa-360noscope-vohiyo"
    row = db(db.eventsub_subscription).select().first()
    assert (row.twitch_id, row.status, row.type) == (json.loads(body)["subscription"]["id"], "enabled", "channel.cheer")


def test_challenge_with_a_bad_signature_is_refused(receiver, db):
    post(receiver, wire.verification("not-the-secret-0123"), 403)
    assert db(db.eventsub_subscription).count() == 0


@pytest.mark.parametrize("reason", wire.REVOCATION_REASONS)
def test_revocation_marks_the_subscription_with_the_reason(receiver, db, reason):
    headers, body = wire.revocation(SECRET, "channel.ban", reason=reason)
    subscription = json.loads(body)["subscription"]
    eventsub.upsert_subscription(db, {**subscription, "status": "enabled"}, created_by_us=True)
    db.commit()
    reply = post(receiver, (headers, body), 200)
    assert reply.json["reason"] == reason
    row = db(db.eventsub_subscription).select().first()
    assert (row.status, row.revoked_reason, row.created_by_us) == ("revoked", reason, True)


def test_batched_events_are_stored_one_by_one(receiver, db):
    subscription = wire.subscription_object("channel.follow")
    events = [{"id": f"item-{index}", "data": wire.sample_event("channel.follow")} for index in range(3)]
    message = wire.signed_message(SECRET, wire.NOTIFICATION, {"subscription": subscription, "events": events})
    assert post(receiver, message, 200).json["status"] == "stored"
    assert post(receiver, message, 200).json["status"] == "duplicate"
    assert _counts(db) == (3, 3, 3)
    ids = sorted(row.message_id for row in db(db.eventsub_event).select())
    assert ids == [f"{message[0][wire.MESSAGE_ID]}:{index}" for index in range(3)]


def test_unknown_subscription_type_is_stored_without_activity(receiver, db):
    event = {"broadcaster_user_id": "1337", "title": "New title", "category_id": "509658"}
    post(receiver, wire.notification(SECRET, "channel.update", event=event), 200)
    assert _counts(db) == (1, 0, 0)
    assert db(db.eventsub_event).select().first().event == event


def test_database_failure_answers_5xx_and_keeps_nothing(receiver, db):
    """The outbox table is missing for a moment: the event and activity written before it are
    rolled back, Twitch is told to retry, and the retry is stored (not taken for a duplicate)."""
    message = wire.notification(SECRET, "channel.follow")
    db.executesql("ALTER TABLE outbox RENAME TO outbox_away")
    db.commit()
    try:
        reply = post(receiver, message, 503)
    finally:
        db.rollback()
        db.executesql("ALTER TABLE outbox_away RENAME TO outbox")
        db.commit()
    assert "will send it again" in reply.json["message"]
    assert _counts(db) == (0, 0, 0)
    assert post(receiver, message, 200).json["status"] == "stored"
    assert _counts(db) == (1, 1, 1)


def test_body_over_the_limit_is_413(configure, client, db):
    webhook_settings(configure, WEBHOOK_MAX_BODY_BYTES="1024")
    event = {**wire.sample_event("channel.follow"), "padding": "x" * 2000}
    post(client, wire.notification(SECRET, "channel.follow", event=event), 413)
    assert _counts(db) == (0, 0, 0)


def test_malformed_json_is_400(receiver, db):
    headers, _ = wire.notification(SECRET, "channel.follow")
    body = b'{"subscription": {"type": "channel.follow"}, "event": '
    timestamp = headers[wire.MESSAGE_TIMESTAMP]
    headers[wire.MESSAGE_SIGNATURE] = wire.sign(SECRET, headers[wire.MESSAGE_ID], timestamp, body)
    assert "JSON" in post(receiver, (headers, body), 400).json["message"]
    assert _counts(db) == (0, 0, 0)


@pytest.mark.parametrize("payload", [
    {"subscription": {"id": "x", "version": "1"}, "event": {}},
    {"subscription": wire.subscription_object("channel.follow")},
    {"subscription": wire.subscription_object("channel.follow"), "event": "follow"},
])
def test_notification_without_subscription_type_or_event_is_400(receiver, db, payload):
    post(receiver, wire.signed_message(SECRET, wire.NOTIFICATION, payload), 400)
    assert _counts(db) == (0, 0, 0)


def test_unknown_message_type_is_400(receiver, db):
    headers, body = wire.notification(SECRET, "channel.follow")
    post(receiver, (headers, body), 400, **{wire.MESSAGE_TYPE: "surprise"})
    assert _counts(db) == (0, 0, 0)


def test_per_subscription_secret_is_used_for_its_messages(receiver, db):
    subscription = wire.subscription_object("channel.cheer", subscription_id="sub-with-secret")
    eventsub.upsert_subscription(db, subscription, created_by_us=True, secret="its-own-secret-42")
    db.commit()
    post(receiver, wire.notification(SECRET, "channel.cheer", subscription_id="sub-with-secret"), 403)
    post(receiver, wire.notification("its-own-secret-42", "channel.cheer", subscription_id="sub-with-secret"), 200)
    post(receiver, wire.notification(SECRET, "channel.cheer", subscription_id="another-one"), 200)
    assert _counts(db)[0] == 2


def test_a_subscriptions_new_secret_applies_at_once(receiver, db):
    """The receiver remembers a subscription's secret; a message signed with the one stored now
    still verifies, and from then on the old one no longer does."""
    subscription = wire.subscription_object("channel.cheer", subscription_id="sub-rotated")
    eventsub.upsert_subscription(db, subscription, created_by_us=True, secret="first-secret-0123")
    db.commit()
    post(receiver, wire.notification("first-secret-0123", "channel.cheer", subscription_id="sub-rotated"), 200)
    eventsub.upsert_subscription(db, subscription, created_by_us=True, secret="second-secret-4567")
    db.commit()
    post(receiver, wire.notification("second-secret-4567", "channel.cheer", subscription_id="sub-rotated"), 200)
    post(receiver, wire.notification("first-secret-0123", "channel.cheer", subscription_id="sub-rotated"), 403)
    assert _counts(db)[0] == 2


def test_a_broken_connection_answers_503_with_retry_after(receiver, db, monkeypatch):
    """The connection died under the group commit: its rollback raises too. Old code: 500."""
    import sqlite3

    from apps.twitch_webhooks import webhook

    def broken(*args):
        raise sqlite3.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(webhook.NOTIFICATIONS, "_write", broken)
    monkeypatch.setattr(db._adapter, "rollback", broken)
    reply = post(receiver, wire.notification(SECRET, "channel.follow"), 503)
    monkeypatch.undo()
    assert reply.headers["Retry-After"].isdigit()
    assert reply.json["status"] == 503 and "will send it again" in reply.json["message"]
    assert post(receiver, wire.notification(SECRET, "channel.follow"), 200).json["status"] == "stored"


def test_a_database_failure_before_storing_answers_503(receiver, db, monkeypatch):
    """Reading the subscription's secret fails (the database is down): 503, not 500."""
    import sqlite3

    def down(*args, **kwargs):
        raise sqlite3.OperationalError("database is down")

    monkeypatch.setattr(eventsub, "signing_secrets", down)
    reply = post(receiver, wire.notification(SECRET, "channel.follow"), 503)
    assert reply.headers["Retry-After"].isdigit() and reply.json["status"] == 503
