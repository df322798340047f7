"""apps.twitch_webhooks.eventsub.store: events stored once per message id, activities with points, subscriptions."""

from __future__ import annotations

import random
import threading

import pytest

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch.eventsub import sample_event, subscription_object
from shared.crypto import decrypt
from shared.db import get_db, utcnow
from tests.waiting import wait_until

RNG = random.Random(5)


def _record(db, message_id: str, event_type: str, event: dict | None = None, **subscription) -> bool:
    return eventsub.record_notification(
        db, message_id=message_id, subscription=subscription_object(event_type, **subscription),
        event=event if event is not None else sample_event(event_type, rng=RNG), transport="webhook")


def test_points_defaults_per_unit_and_unknown_types():
    assert eventsub.points_for("channel.follow", {}) == 10
    assert eventsub.points_for("channel.ban", {}) == -10
    assert eventsub.points_for("channel.cheer", {"bits": 250}) == 250
    assert eventsub.points_for("channel.subscription.gift", {"total": 3}) == 180
    assert eventsub.points_for("stream.online", {}) is None
    assert eventsub.points_for("channel.update", {}) is None


def test_points_global_then_channel_overrides(configure):
    configure(ACTIVITY_POINTS='{"channel.follow": 5, "channel.cheer": 2, "channel.raid": "lots"}')
    assert eventsub.points_for("channel.follow", {}) == 5
    assert eventsub.points_for("channel.cheer", {"bits": 10}) == 20
    assert eventsub.points_for("channel.raid", {}) == 30  # a non-integer override is ignored
    assert eventsub.points_for("channel.follow", {}, {"channel.follow": 7}) == 7
    assert eventsub.points_for("channel.cheer", {"bits": 10}, {"channel.cheer": 3}) == 30


def test_notification_stores_event_activity_and_outbox_once(db):
    event = sample_event("channel.follow", rng=RNG)
    assert _record(db, "m-1", "channel.follow", event) is True
    assert _record(db, "m-1", "channel.follow", event) is False
    db.commit()
    assert db(db.eventsub_event).count() == 1
    stored = db(db.eventsub_event).select().first()
    assert (stored.event_type, stored.channel_id, stored.user_id, stored.transport) == (
        "channel.follow", "1337", event["user_id"], "webhook")
    assert stored.event == event
    activity = db(db.activity).select().first()
    assert (activity.activity_type, activity.points, activity.user_id, activity.source_id) == (
        "channel.follow", 10, event["user_id"], "m-1")
    assert db(db.outbox.activity_id == activity.id).count() == 1


def test_unknown_and_stream_types_are_stored_without_activity(db):
    assert _record(db, "m-2", "stream.online")
    assert _record(db, "m-3", "channel.update", {"broadcaster_user_id": "1337", "title": "hi"})
    db.commit()
    assert db(db.eventsub_event).count() == 2
    assert db(db.activity).count() == 0


def test_anonymous_cheer_has_points_and_no_user(db):
    event = sample_event("channel.cheer", rng=RNG, anonymous=True)
    _record(db, "m-4", "channel.cheer", event)
    activity = db(db.activity).select().first()
    assert activity.user_id is None and activity.points == event["bits"]
    assert activity.details["is_anonymous"] is True


def test_channel_overrides_and_inactive_channel(db):
    now = utcnow()
    db.twitch_channel.insert(broadcaster_id="1337", login="cooler_user", active=True,
                             points_overrides={"channel.follow": 1}, created_at=now)
    db.twitch_channel.insert(broadcaster_id="42", login="quiet", active=False, created_at=now)
    _record(db, "m-5", "channel.follow")
    _record(db, "m-6", "channel.follow", sample_event("channel.follow", broadcaster_id="42", rng=RNG))
    assert [row.points for row in db(db.activity).select()] == [1]
    assert db(db.eventsub_event).count() == 2


def test_raid_credits_the_raider_in_the_raided_channel(db):
    event = sample_event("channel.raid", broadcaster_id="1337", rng=RNG)
    _record(db, "m-7", "channel.raid", event)
    activity = db(db.activity).select().first()
    assert (activity.channel_id, activity.user_id, activity.points) == (
        "1337", event["from_broadcaster_user_id"], 30)


def test_batch_items_are_deduplicated_one_by_one(db):
    events = [{"id": f"e{i}", "data": sample_event("channel.follow", rng=RNG)} for i in range(3)]
    subscription = subscription_object("channel.follow")
    assert sum(eventsub.record_notifications(db, eventsub.batch_items(
        message_id="b-1", subscription=subscription, events=events, transport="webhook"))) == 3
    assert sum(eventsub.record_notifications(db, eventsub.batch_items(
        message_id="b-1", subscription=subscription, transport="webhook",
        events=events + [{"id": "e3", "data": sample_event("channel.follow", rng=RNG)}]))) == 1
    assert db(db.eventsub_event).count() == 4 and db(db.activity).count() == 4


def test_many_notifications_in_one_call_match_one_by_one(db):
    """record_notifications writes each table once for the whole list: duplicates (stored before,
    or earlier in the list) write nothing, inactive channels earn nothing, overrides apply."""
    now = utcnow()
    db.twitch_channel.insert(broadcaster_id="1337", login="cooler_user", active=True,
                             points_overrides={"channel.follow": 1}, created_at=now)
    db.twitch_channel.insert(broadcaster_id="42", login="quiet", active=False, created_at=now)
    _record(db, "old", "channel.follow")

    def item(message_id, event_type, **event):
        return eventsub.Incoming(message_id, subscription_object(event_type),
                                 sample_event(event_type, rng=RNG, **event), "webhook")

    items = [item("old", "channel.follow"), item("a", "channel.follow"), item("b", "channel.cheer"),
             item("a", "channel.follow"), item("c", "channel.follow", broadcaster_id="42"),
             item("d", "stream.online"), item("e", "channel.raid", broadcaster_id="77")]
    assert eventsub.record_notifications(db, items) == [False, True, True, False, True, True, True]
    db.commit()
    assert sorted(row.message_id for row in db(db.eventsub_event).select()) == ["a", "b", "c", "d", "e", "old"]
    activities = {row.source_id: row for row in db(db.activity).select()}
    assert sorted(activities) == ["a", "b", "e", "old"]
    assert activities["a"].points == 1 and activities["e"].points == 30
    assert activities["b"].points == items[2].event["bits"]
    assert activities["e"].details == {"viewers": items[6].event["viewers"], "transport": "webhook"}
    outbox = {row.activity_id: row.idempotency_key for row in db(db.outbox).select()}
    assert outbox == {row.id: f"activity:{row.id}" for row in activities.values()}


def test_concurrent_duplicates_store_one_row(db):
    """Threads with their own connections record the same message id at the same time."""
    event, barrier, results = sample_event("channel.subscribe", rng=RNG), threading.Barrier(4), []

    def worker():
        own = get_db()
        barrier.wait()
        try:
            results.append(_record(own, "same-id", "channel.subscribe", event))
            own.commit()
        finally:
            own.rollback()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    db.rollback()
    assert db(db.eventsub_event.message_id == "same-id").count() == 1
    assert db(db.activity).count() == 1


def test_duplicate_leaves_the_callers_transaction_usable(db):
    _record(db, "m-8", "channel.follow")
    assert _record(db, "m-8", "channel.follow") is False
    assert _record(db, "m-9", "channel.follow") is True
    db.commit()
    assert db(db.eventsub_event).count() == 2


def test_upsert_subscription_keeps_owner_and_secret(db):
    twitch = subscription_object("channel.follow", status="webhook_callback_verification_pending")
    eventsub.upsert_subscription(db, twitch, created_by_us=True, secret="per-subscription-secret")
    eventsub.upsert_subscription(db, {**twitch, "status": "enabled", "cost": 1}, created_by_us=False)
    row = db(db.eventsub_subscription).select().first()
    assert (row.status, row.cost, row.created_by_us, row.type, row.version) == (
        "enabled", 1, True, "channel.follow", "2")
    assert row.condition == twitch["condition"] and row.callback == "https://example.com/webhook"
    assert decrypt(row.secret_encrypted) == "per-subscription-secret"
    assert eventsub.subscription_secret(db, twitch) == "per-subscription-secret"
    assert eventsub.subscription_secret(db, {**twitch, "id": "unknown"}) is None


@pytest.mark.parametrize("challenge_first", [False, True])
def test_reserved_subscription_is_verifiable_before_twitch_replies(db, challenge_first):
    twitch = subscription_object("channel.cheer", callback="https://bot.example/twitch_webhooks/webhook",
                                 status="webhook_callback_verification_pending")
    provisional = eventsub.reserve_subscription(
        db, event_type="channel.cheer", version="1", condition=twitch["condition"],
        callback="https://bot.example/twitch_webhooks/webhook", secret="reserved-secret-123")
    assert eventsub.subscription_secret(db, twitch, pending=True) == "reserved-secret-123"
    assert eventsub.subscription_secret(db, twitch) is None  # a notification never matches a reservation
    if challenge_first:
        eventsub.mark_enabled(db, twitch)
    eventsub.attach_subscription(db, provisional, twitch)
    rows = db(db.eventsub_subscription).select()
    assert len(rows) == 1
    assert (rows[0].twitch_id, rows[0].created_by_us) == (twitch["id"], True)
    assert rows[0].status == ("enabled" if challenge_first else "webhook_callback_verification_pending")
    assert eventsub.subscription_secret(db, twitch) == "reserved-secret-123"


def test_forgotten_reservation_leaves_nothing(db):
    provisional = eventsub.reserve_subscription(db, event_type="channel.raid", version="1",
                                                condition={"to_broadcaster_user_id": "1"}, callback="https://x.example",
                                                secret=None)
    eventsub.forget_reservation(db, provisional)
    assert db(db.eventsub_subscription).count() == 0


@pytest.mark.parametrize("known", [True, False])
def test_mark_revoked_records_the_reason(db, known):
    twitch = subscription_object("channel.cheer")
    if known:
        eventsub.upsert_subscription(db, twitch, created_by_us=True)
    eventsub.mark_revoked(db, {**twitch, "status": "user_removed"})
    row = db(db.eventsub_subscription).select().first()
    assert (row.status, row.revoked_reason, row.created_by_us) == ("revoked", "user_removed", known)
    eventsub.mark_enabled(db, twitch)
    row = db(db.eventsub_subscription).select().first()
    assert (row.status, row.revoked_reason) == ("enabled", None)


def test_the_same_new_subscription_stored_at_once_by_two_transactions_makes_one_row(db):
    """PostgreSQL: a challenge and Twitch's creation reply both store a subscription we have no row
    for; the second waits for the first and updates its row instead of failing on the unique id."""
    from shared.db import is_postgres, open_db
    from shared.settings import get_settings

    if not is_postgres(db):
        pytest.skip("PostgreSQL only (SQLite has one writer)")
    subscription = subscription_object("channel.follow", subscription_id="race-1")
    stored, commit, pids, outcome = threading.Event(), threading.Event(), {}, {}

    def store(name: str, created_by_us: bool, hold: bool) -> None:
        connection = open_db(get_settings(), migrate=False)  # its own connection (DALs are per thread)
        try:
            pids[name] = connection.executesql("SELECT pg_backend_pid()")[0][0]
            eventsub.upsert_subscription(connection, subscription, created_by_us=created_by_us)
            if hold:
                stored.set()
                commit.wait(30)
            connection.commit()
            outcome[name] = "ok"
        except Exception as err:
            connection.rollback()
            outcome[name] = err.__class__.__name__
        finally:
            connection.close()

    reply = threading.Thread(target=store, args=("reply", True, True))
    reply.start()
    assert stored.wait(30)  # the creation reply stored the row, not committed yet
    challenge = threading.Thread(target=store, args=("challenge", False, False))
    challenge.start()
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'"
    wait_until(lambda: "challenge" in pids and db.executesql(waiting, placeholders=(pids["challenge"],))[0][0] == 1)
    commit.set()
    reply.join(30)
    challenge.join(30)
    db.commit()
    assert outcome == {"reply": "ok", "challenge": "ok"}
    rows = db(db.eventsub_subscription.twitch_id == "race-1").select()
    assert len(rows) == 1 and rows[0].created_by_us
