import datetime
import json
import threading

import pytest
import requests
import responses

from shared import outbox
from shared.db import utcnow
from shared.outbox import Dispatcher, record_activity
from tests.waiting import wait_until

REPUTATION = "http://reputation.test/activities"
CONTEXT = "http://context.test/identity"


def _activity(db, **overrides):
    values = dict(activity_type="channel.follow", points=10, source="eventsub", source_id="m-1",
                  channel_id="100", channel_login="streamer", user_id="42", user_login="viewer")
    values.update(overrides)
    activity_id = record_activity(db, **values)
    db.commit()
    return activity_id


def _make_due(db):
    db(db.outbox.status == "pending").update(next_attempt_at=utcnow() - datetime.timedelta(seconds=1))
    db.commit()


@pytest.fixture
def reputation(configure):
    configure(REPUTATION_API_URL=REPUTATION, WADDLEBOT_API_KEY="api-key-123")
    with responses.RequestsMock() as mock:
        yield mock


def test_recording_an_activity_writes_it_and_its_outbox_row_in_one_transaction(db, configure):
    configure(REPUTATION_API_URL=REPUTATION)
    record_activity(db, activity_type="channel.raid", points=30, source="eventsub")
    db.rollback()
    assert db(db.activity).count() == 0 and db(db.outbox).count() == 0
    activity_id = _activity(db)
    row = db(db.outbox.activity_id == activity_id).select().first()
    assert row.status == "pending" and row.kind == "reputation"


def test_dispatcher_delivers_each_activity_with_an_idempotency_key(db, reputation):
    reputation.add(responses.POST, REPUTATION, json={"ok": True})
    activity_id = _activity(db)
    assert Dispatcher(db).run_once() == 1
    call = reputation.calls[0]
    body = json.loads(call.request.body)
    assert body["activity_id"] == activity_id and body["type"] == "channel.follow" and body["points"] == 10
    assert call.request.headers["Idempotency-Key"] == f"activity:{activity_id}"
    assert call.request.headers["X-API-Key"] == "api-key-123"
    assert outbox.counts(db)["delivered"] == 1
    assert Dispatcher(db).run_once() == 0


def test_context_api_enriches_the_activity_and_is_cached(db, reputation, configure):
    configure(CONTEXT_API_URL=CONTEXT)
    reputation.add(responses.POST, CONTEXT, json={"identity_id": "id-9", "namespace": "ns-1"})
    reputation.add(responses.POST, REPUTATION, json={})
    for source_id in ("a", "b"):
        _activity(db, source_id=source_id)
        Dispatcher(db).run_once()
    bodies = [json.loads(call.request.body) for call in reputation.calls if call.request.url == REPUTATION]
    assert [(b["identity_id"], b["namespace"]) for b in bodies] == [("id-9", "ns-1")] * 2
    assert sum(call.request.url == CONTEXT for call in reputation.calls) == 1


def test_reputation_api_down_then_back_loses_nothing_and_delivers_once(db, reputation):
    reputation.add(responses.POST, REPUTATION, body=requests.ConnectionError("refused"))
    ids = [_activity(db, source_id=str(n)) for n in range(5)]
    for _ in range(3):
        _make_due(db)
        Dispatcher(db).run_once()
    rows = db(db.outbox).select()
    assert all(row.status == "pending" and row.attempts == 3 for row in rows)
    assert all(row.next_attempt_at > utcnow() for row in rows)
    reputation.replace(responses.POST, REPUTATION, json={})
    assert Dispatcher(db).run_once() == 0, "rows wait for their backoff"
    _make_due(db)
    Dispatcher(db).run_once()
    delivered = [json.loads(call.request.body)["activity_id"] for call in reputation.calls
                 if isinstance(call.response, requests.Response)]
    assert sorted(delivered) == ids
    assert outbox.counts(db)["delivered"] == 5


def test_a_row_is_dead_after_max_attempts_and_can_be_retried_from_the_admin_home(db, reputation, configure,
                                                                                   admin_client):
    configure(OUTBOX_MAX_ATTEMPTS="2")
    reputation.add(responses.POST, REPUTATION, status=503)
    _activity(db)
    for _ in range(2):
        _make_due(db)
        Dispatcher(db).run_once()
    dead = db(db.outbox.status == "dead").select().first()
    assert dead.attempts == 2 and "503" in dead.last_error
    home = admin_client.get("/")
    assert home.html.select_one("#dead").text == "1"
    admin_client.post(f"/outbox/{dead.id}/retry")
    db.commit()
    assert db.outbox[dead.id].status == "pending" and db.outbox[dead.id].attempts == 0
    assert admin_client.post("/outbox/999999/retry", status=404).json["message"] == "no dead outbox row 999999"


def test_a_rejected_activity_is_dead_at_once(db, reputation):
    reputation.add(responses.POST, REPUTATION, status=422, json={"error": "bad"})
    _activity(db)
    Dispatcher(db).run_once()
    assert outbox.counts(db)["dead"] == 1


def test_without_reputation_api_activities_are_stored_and_marked_not_forwarded(db):
    _activity(db)
    assert outbox.counts(db) == {"pending": 0, "delivered": 0, "dead": 0, "not_forwarded": 1}
    assert Dispatcher(db).run_once() == 0


def test_concurrent_dispatchers_never_deliver_a_row_twice(db, reputation, configure):
    configure(OUTBOX_BATCH_SIZE="7")
    reputation.add(responses.POST, REPUTATION, json={})
    for n in range(60):
        record_activity(db, activity_type="channel.follow", points=10, source="test", source_id=str(n))
    db.commit()

    def drain():
        dispatcher = Dispatcher()
        while dispatcher.run_once():
            pass

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = [json.loads(call.request.body)["activity_id"] for call in reputation.calls]
    assert len(delivered) == 60 and len(set(delivered)) == 60
    assert outbox.counts(db)["delivered"] == 60


def test_enqueue_refuses_unknown_kinds(db):
    with pytest.raises(ValueError, match="no deliverer registered for outbox kind 'nope'"):
        outbox.enqueue(db, "nope", {}, idempotency_key="x")


def test_with_the_defaults_a_row_outlives_an_hour_long_outage(monkeypatch):
    from shared.settings import get_settings

    settings = get_settings()
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: low)  # the unluckiest jitter
    window = sum(outbox.backoff(attempt, settings) for attempt in range(1, settings.outbox_max_attempts))
    assert window > 3600


@pytest.fixture
def slow_kind(monkeypatch):
    """An outbox kind whose delivery of body {"n": 2} waits for `release` (set at the end)."""
    release = threading.Event()

    def deliver(row, session, settings):
        if row.body["n"] == 2:
            release.wait(10)

    monkeypatch.setitem(outbox.DELIVERERS, "test.slow", deliver)
    yield release
    release.set()


def _status(db, row_id: int) -> tuple[str, datetime.datetime | None]:
    db.commit()  # a fresh snapshot: the dispatcher writes from its own thread and connection
    row = db.outbox[row_id]
    return row.status, row.claimed_until


def test_each_row_is_marked_delivered_as_soon_as_it_is(db, configure, slow_kind):
    """Old code marked a batch's rows only when all were done: a crash meanwhile delivered them again."""
    configure(OUTBOX_CONCURRENCY="2")
    fast, slow = (outbox.enqueue(db, "test.slow", {"n": n}, idempotency_key=f"n-{n}") for n in (1, 2))
    db.commit()
    runner = threading.Thread(target=Dispatcher().run_once, daemon=True)
    runner.start()
    try:
        wait_until(lambda: _status(db, fast)[0] == "delivered")
        assert _status(db, slow)[0] == "pending"
    finally:
        slow_kind.set()
        runner.join(10)
    assert _status(db, slow)[0] == "delivered"


def test_a_claimed_row_is_leased_for_the_configured_time_and_renewed_while_in_flight(db, configure, slow_kind):
    configure(OUTBOX_LEASE_SECONDS="1", OUTBOX_CONCURRENCY="1")
    row_id = outbox.enqueue(db, "test.slow", {"n": 2}, idempotency_key="n-2")
    db.commit()
    before = utcnow()
    runner = threading.Thread(target=Dispatcher().run_once, daemon=True)
    runner.start()
    try:
        wait_until(lambda: _status(db, row_id)[1] is not None)
        first_lease = _status(db, row_id)[1]
        assert before + datetime.timedelta(seconds=1) <= first_lease <= utcnow() + datetime.timedelta(seconds=1)
        wait_until(lambda: _status(db, row_id)[1] > first_lease)  # the dispatcher still works on it
    finally:
        slow_kind.set()
        runner.join(10)
    assert _status(db, row_id) == ("delivered", None)
