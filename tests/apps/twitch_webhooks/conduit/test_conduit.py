"""EVENTSUB_TRANSPORT=conduit against fake Twitch servers on 127.0.0.1: the conduit created once
and reused, worker processes' EventSub WebSocket sessions as its shards, the subscriptions created
once with the app token, and a killed worker's shard taken over with no event lost or stored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modules.sandbox.eventsub_ws import FakeEventSub
from modules.sandbox.helix import FakeHelix
from shared.db import transaction, utcnow
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID
from tests.apps.twitch_webhooks.hub.fakes import make_account, make_bot, make_interest
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[4]
WORKER = """
import sys, threading
from shared.web import load_apps
load_apps()
from apps.twitch_webhooks.conduit.worker import ConduitWorker
ConduitWorker(sys.argv[1], takeover_seconds=float(sys.argv[2])).run(threading.Event())
"""


@pytest.fixture
def twitch():
    helix = FakeHelix(client_id=CLIENT_ID, client_secret="secret").start()
    eventsub = FakeEventSub(auto=True, on_close=helix.session_closed)
    helix.sessions = eventsub
    yield helix
    eventsub.stop()
    helix.close()


@pytest.fixture
def conduit_settings(db, configure, twitch):
    configure(TWITCH_APP_ID=CLIENT_ID, TWITCH_APP_SECRET="secret", TWITCH_HELIX_URL=twitch.url,
              TWITCH_ID_URL=twitch.url.removesuffix("/helix") + "/oauth2", HELIX_MAX_RETRIES="1",
              TWITCH_EVENTSUB_WS_URL=twitch.sessions.url, EVENTSUB_TRANSPORT="conduit")
    with transaction(db):
        db.twitch_channel.insert(broadcaster_id="1001", login="streamer", active=True, created_at=utcnow())
    # two services' interests: one the channel's standard set has already, one it has not (twice)
    make_bot(db)
    account, _ = make_account(db)
    make_interest(db, account, "stream.online", broadcaster="1001")
    other, _ = make_account(db, "svc2")
    for owner in (account, other):
        make_interest(db, owner, "channel.update", broadcaster="1001")


@pytest.fixture
def workers(tmp_path):
    """start(name, takeover_seconds) → a worker process serving the conduit."""
    processes = {}

    def start(name: str, takeover_seconds: float = 1.0) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("w")
        processes[name] = subprocess.Popen([sys.executable, "-c", WORKER, name, str(takeover_seconds)], cwd=ROOT,
                                           env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
        return processes[name]

    yield start
    for process in processes.values():
        process.kill()
        process.wait(10)


def enabled(twitch) -> dict[str, str]:
    """{shard id: session id} of the enabled shards of the one conduit."""
    if len(twitch.conduits) != 1:
        return {}
    [conduit_id] = twitch.conduits
    return {shard: session for shard, (status, session) in twitch.shard_statuses(conduit_id).items()
            if status == "enabled"}


def follow(number: int) -> dict:
    return {"user_id": str(5000 + number), "user_login": f"viewer{number}", "user_name": f"Viewer{number}",
            "broadcaster_user_id": "1001", "broadcaster_user_login": "streamer",
            "broadcaster_user_name": "Streamer", "followed_at": "2026-01-01T00:00:00Z"}


def stored_ids(db, event_type: str = "channel.follow") -> list[str]:
    db.commit()
    return db(db.eventsub_event.event_type == event_type).select(db.eventsub_event.message_id).column("message_id")


def test_a_killed_workers_shard_moves_with_no_event_lost_or_stored_twice(db, twitch, conduit_settings, workers):
    # with file and PostgreSQL locks the move follows conduit.shard.disabled at once; a Redis lock
    # of a killed process is free once its TTL ran out, and the next look then takes the shard
    first = workers("worker-a")
    wait_until(lambda: set(enabled(twitch)) == {"0"}, timeout=20)
    # 9 standard types + channel.update (wanted twice) + conduit.shard.disabled, each once
    wait_until(lambda: len(twitch.subscriptions) == 11, timeout=20)
    workers("worker-b")
    wait_until(lambda: set(enabled(twitch)) == {"0", "1"}, timeout=20)
    [conduit] = twitch.conduits.values()
    assert conduit.shard_count == 2
    assert {sub["transport"]["method"] for sub in twitch.subscriptions} == {"conduit"}
    assert db(db.eventsub_conduit).select().first().conduit_id == conduit.id

    delivered = []
    for number in range(20):
        message_id, shard = twitch.deliver("channel.follow", follow(number))
        delivered.append((message_id, shard))
    assert {shard for _, shard in delivered} == {"0", "1"}
    wait_until(lambda: len(stored_ids(db)) == 20)

    dead_session = enabled(twitch)["0"]
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_until(lambda: enabled(twitch).get("0") not in (None, dead_session), timeout=45)  # taken over
    for number in range(20, 40):
        delivered.append(twitch.deliver("channel.follow", follow(number)))
    wait_until(lambda: len(stored_ids(db)) == 40)
    assert all(shard is not None for _, shard in delivered)
    assert sorted(stored_ids(db)) == sorted(message_id for message_id, _ in delivered)
    db.commit()
    shards = {row.shard_id: row.worker_id for row in db(db.eventsub_conduit_shard).select()}
    assert shards == {"0": "worker-b", "1": "worker-b"}
    assert len(stored_ids(db, "conduit.shard.disabled")) == 1  # Twitch told the live worker
    assert len(twitch.subscriptions) == 11  # created once, not again by the worker that took shard 0
    assert len(twitch.conduits) == 1


def test_a_restarted_worker_reuses_the_conduit(db, twitch, conduit_settings, workers):
    first = workers("worker-a")
    wait_until(lambda: set(enabled(twitch)) == {"0"}, timeout=20)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_until(lambda: not enabled(twitch))
    workers("worker-a2")  # waits for the disabled shard rather than adding one
    wait_until(lambda: set(enabled(twitch)) == {"0"}, timeout=45)
    assert len(twitch.conduits) == 1 and next(iter(twitch.conduits.values())).shard_count == 1


def test_the_admin_page_shows_the_conduit_and_who_serves_each_shard(admin_client, db, configure):
    configure(EVENTSUB_TRANSPORT="conduit")
    page = admin_client.get("/twitch_webhooks/admin/conduit")
    assert page.html.select_one("#transport").text == "conduit" and page.html.select_one("#no-conduit")
    with transaction(db):
        db.eventsub_conduit.insert(conduit_id="c-1", shard_count=2, updated_at=utcnow())
        db.eventsub_conduit_shard.insert(conduit_id="c-1", shard_id="1", worker_id="host-2", session_id="s-2",
                                         status="reconnecting", detail="Twitch closed 4005", updated_at=utcnow())
        db.eventsub_conduit_shard.insert(conduit_id="c-1", shard_id="0", worker_id="host-1", session_id="s-1",
                                         status="enabled", updated_at=utcnow())
    page = admin_client.get("/twitch_webhooks/admin/conduit")
    assert page.html.select_one("#conduit-id").text == "c-1" and page.html.select_one("#shard-count").text == "2"
    rows = [[cell.text for cell in row.select("td")][:4] for row in page.html.select("#shards tbody tr")]
    assert rows == [["0", "enabled", "host-1", "s-1"], ["1", "reconnecting", "host-2", "s-2"]]
    assert any(link.get("href") == "/twitch_webhooks/admin/conduit" for link in page.html.select("nav a"))


def test_twitch_refusals_of_conduit_calls_say_why(db, twitch, conduit_settings):
    from apps.twitch_webhooks.conduit import helix as conduit_helix

    conduit = conduit_helix.ensure_conduit(1)
    assert conduit_helix.ensure_conduit(1) == conduit  # reused, not created again
    with pytest.raises(conduit_helix.ConduitError, match="outside the conduit's range"):
        conduit_helix.assign_websocket(conduit.id, "3", "s-1")
    with pytest.raises(conduit_helix.ConduitError, match="websocket session was not found"):
        conduit_helix.assign_websocket(conduit.id, "0", "no-such-session")
    with transaction(db):
        db.eventsub_subscription.insert(twitch_id="old", type="channel.follow", version="2", condition={},
                                        transport_method="conduit", status="enabled", created_at=utcnow(),
                                        updated_at=utcnow())
    twitch.conduits.clear()  # deleted at Twitch: a new conduit, and the old one's subscriptions forgotten
    replacement = conduit_helix.ensure_conduit(1)
    assert replacement.id != conduit.id and list(twitch.conduits) == [replacement.id]
    assert db(db.eventsub_subscription).count() == 0


def test_a_dead_workers_shard_is_taken_on_the_next_look_without_shard_disabled(db, twitch, conduit_settings):
    """The periodic look alone (what the timer runs every CONDUIT_TAKEOVER_SECONDS, called here by
    the test) moves the shard: no subscriptions are made, so Twitch has no conduit.shard.disabled
    to send."""
    from apps.twitch_webhooks.conduit.worker import ConduitWorker

    first, second = ConduitWorker("worker-a"), ConduitWorker("worker-b")
    try:
        first.start()
        first.sweep()
        wait_until(lambda: set(enabled(twitch)) == {"0"})
        second.start()
        second.sweep()  # no free shard, every shard enabled: it adds one
        wait_until(lambda: set(enabled(twitch)) == {"0", "1"})
        dead_session = enabled(twitch)["0"]
        first.stop_shards()  # worker-a is gone: its session ends, its lock frees, Twitch disables the shard
        wait_until(lambda: "0" not in enabled(twitch))
        assert set(second.shards) == {"1"} and twitch.subscriptions_of("conduit.shard.disabled") == []
        second.sweep()
        wait_until(lambda: enabled(twitch).get("0") not in (None, dead_session))
        assert set(second.shards) == {"0", "1"}
        db.commit()
        assert {row.shard_id: row.worker_id for row in db(db.eventsub_conduit_shard).select()} == {
            "0": "worker-b", "1": "worker-b"}
        assert len(twitch.conduits) == 1 and next(iter(twitch.conduits.values())).shard_count == 2
    finally:
        first.stop_shards()
        second.stop_shards()


def test_a_webhook_shard_brings_events_to_the_webhook_receiver(client, db, twitch, conduit_settings, configure):
    """CONDUIT_SHARDS=auto with an https callback: the conduit's one shard is our webhook receiver,
    which verifies Twitch's signature with the secret the shard was given; no WebSocket is opened."""
    from apps.twitch_webhooks.conduit.worker import ConduitWorker

    secret = "webhook-secret-0123456789"
    configure(PUBLIC_URL="https://bot.example.org", TWITCH_WEBHOOK_SECRET=secret)
    callback = "https://bot.example.org/twitch_webhooks/webhook"
    answers = []

    def receive(url: str, headers: dict, body: bytes) -> int:
        assert url == callback
        answers.append(client.post("/twitch_webhooks/webhook", params=body, headers=headers,
                                   content_type="application/json", expect_errors=True).status_int)
        return answers[-1]

    twitch.post_webhook = receive
    worker = ConduitWorker("worker-a")
    subscriptions = worker.start()
    worker.sweep(subscriptions)
    [conduit] = twitch.conduits.values()
    assert conduit.shard_count == 1 and conduit.shards["0"]["transport"] == {"method": "webhook",
                                                                             "callback": callback}
    assert len(twitch.subscriptions) == 11 and not worker.shards and twitch.sessions.sessions == {}
    message_id, shard = twitch.deliver("channel.follow", follow(1))
    assert shard == "0"
    twitch.deliver("channel.follow", follow(1), message_id=message_id)  # Twitch's retry: stored once
    assert answers == [200, 200] and stored_ids(db) == [message_id]
    worker.sweep(subscriptions)  # enabled with our callback: not assigned again
    assert twitch.requests.count(("PATCH", "eventsub/conduits/shards")) == 1

    conduit.shards["0"]["secret"] = "someone-elses-secret-0123"  # a message we cannot verify is refused
    assert twitch.deliver("channel.follow", follow(2))[1] is None and answers[-1] == 403
    worker.sweep(subscriptions)  # Twitch disabled the shard: it is assigned again, with our secret
    assert twitch.deliver("channel.follow", follow(3))[1] == "0" and len(stored_ids(db)) == 2
    worker.stop_shards()


def test_conduit_shards_webhook_with_an_http_callback_says_why_twitch_refuses(db, twitch, conduit_settings,
                                                                              configure):
    from apps.twitch_webhooks.conduit.worker import ConduitWorker

    configure(CONDUIT_SHARDS="webhook", TWITCH_WEBHOOK_SECRET="webhook-secret-0123456789")
    worker = ConduitWorker("worker-a")
    worker.sweep(worker.start())
    worker.stop_shards()
    db.commit()
    row = db(db.eventsub_conduit_shard.shard_id == "0").select().first()
    assert row.status == "refused" and "callback must be https" in row.detail
    assert not twitch.subscriptions  # nothing is made while no shard can take it
