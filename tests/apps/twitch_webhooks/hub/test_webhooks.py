"""Hub webhooks end to end: stored events → the webhook forwarder → the outbox → a receiver on
127.0.0.1 that verifies the signature as the README tells receivers to."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from apps.twitch_webhooks.hub import forwarder as hub_forwarder
from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub import webhooks as hub_webhooks
from shared.outbox import Dispatcher
from tests.apps.twitch_webhooks.hub.fakes import (
    BROADCASTER,
    hub_settings,
    make_account,
    make_bot,
    make_interest,
    store_event,
    subscribe_all,
)
from tests.modules.twitch.test_eventsub_ws import WAIT
from tests.waiting import wait_until

ONLINE = {"id": "9", "broadcaster_user_id": BROADCASTER, "type": "live", "started_at": "2024-01-01T00:00:00Z"}


class Receiver:
    """A webhook receiver: answers the queued statuses (200 when none), records each request;
    `hold` makes it wait until released (a slow receiver)."""

    def __init__(self):
        self.requests: queue.Queue[tuple[dict, bytes]] = queue.Queue()
        self.statuses: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hold.wait(WAIT)
                receiver.requests.put((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def next(self) -> tuple[dict, bytes]:
        return self.requests.get(timeout=WAIT)

    def stop(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does: HMAC-SHA256(secret, id + timestamp + body), compared in constant time."""
    message = (headers["Waddlebot-Hub-Message-Id"] + headers["Waddlebot-Hub-Message-Timestamp"]).encode() + body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["Waddlebot-Hub-Message-Signature"])


@pytest.fixture
def receivers():
    started = []

    def start() -> Receiver:
        started.append(Receiver())
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def world(configure, db):
    hub_settings(configure, API_TIMEOUT_SECONDS="5", OUTBOX_BACKOFF_BASE_SECONDS="60")
    make_bot(db)
    hub_webhooks.pauses.clear()
    yield
    hub_webhooks.pauses.clear()


@pytest.fixture
def forwarder(db):
    """Runs the webhook forwarder until the test ends (start() again after stop() to restart it).
    Its cursor starts before the test's events (a first start skips the events stored until then)."""
    running = {}
    hub_forwarder.save_cursor(db, "webhooks", hub_forwarder.EventFeed(0))
    db.commit()

    def start():
        stop = threading.Event()
        thread = threading.Thread(target=hub_forwarder.forward_webhooks, args=(stop, 0.02), daemon=True)
        thread.start()
        running.update(stop=stop, thread=thread)

    def stop():
        running["stop"].set()
        running["thread"].join(WAIT)
        assert not running["thread"].is_alive()

    start.stop = stop
    yield start
    if running:
        stop()


def webhook_interest(db, name: str, url: str) -> tuple[dict, str]:
    return make_interest(db, make_account(db, name)[0], "stream.online", transport="webhook", webhook_url=url)


def queued(db, count: int) -> None:
    def enough():
        db.rollback()
        return db(db.outbox.kind == "hub_webhook").count() == count
    wait_until(enough)


def queue_one(db, forwarder, url: str) -> tuple[dict, str, str]:
    """A webhook interest of a new service, and one event for it in the outbox: (interest, secret, message id)."""
    interest, secret = webhook_interest(db, "alerts", url)
    subscription = subscribe_all(db)["stream.online"]
    forwarder()
    message_id = store_event(db, subscription, ONLINE)
    queued(db, 1)
    return interest, secret, message_id


def test_events_are_posted_signed_to_the_webhook(world, db, receivers, forwarder):
    receiver = receivers()
    interest, secret, message_id = queue_one(db, forwarder, receiver.url)
    assert Dispatcher().run_once() == 1
    headers, body = receiver.next()
    assert verify(secret, headers, body)
    assert not verify("another-secret", headers, body)
    assert headers["Waddlebot-Hub-Message-Id"] == message_id
    assert headers["Waddlebot-Hub-Interest-Id"] == interest["interest_id"]
    assert headers["Content-Type"] == "application/json"
    message = json.loads(body)
    assert set(message) == {"id", "type", "version", "event", "received_at"}
    assert (message["id"], message["type"], message["version"], message["event"]) == (
        message_id, "stream.online", "1", ONLINE)
    assert db(db.outbox.kind == "hub_webhook").select().first().status == "delivered"


def test_failed_deliveries_are_retried_and_signed_again(world, db, receivers, forwarder):
    receiver = receivers()
    receiver.statuses = [503]
    _, secret, _ = queue_one(db, forwarder, receiver.url)
    Dispatcher().run_once()
    first, _ = receiver.next()
    row = db(db.outbox.kind == "hub_webhook").select().first()
    assert (row.status, row.attempts) == ("pending", 1) and "503" in row.last_error
    row.update_record(next_attempt_at=row.created_at)
    db.commit()
    Dispatcher().run_once()
    second, body = receiver.next()
    assert verify(secret, second, body)
    assert second["Waddlebot-Hub-Message-Id"] == first["Waddlebot-Hub-Message-Id"]
    assert (first["Waddlebot-Hub-Message-Retry"], second["Waddlebot-Hub-Message-Retry"]) == ("1", "2")
    db.rollback()
    assert db(db.outbox.kind == "hub_webhook").select().first().status == "delivered"


@pytest.mark.parametrize(("status", "words"), [(400, "answered 400"), (302, "redirects are not followed")])
def test_refusals_and_redirects_are_not_retried(world, db, receivers, forwarder, status, words):
    receiver = receivers()
    receiver.statuses = [status]
    queue_one(db, forwarder, receiver.url)
    Dispatcher().run_once()
    row = db(db.outbox.kind == "hub_webhook").select().first()
    assert row.status == "dead" and words in row.last_error


def test_a_slow_or_dead_receiver_does_not_delay_the_others(world, db, receivers, forwarder):
    healthy, slow = receivers(), receivers()
    slow.hold.clear()
    webhook_interest(db, "healthy", healthy.url)
    webhook_interest(db, "slow", slow.url)
    webhook_interest(db, "dead", "http://127.0.0.1:9/hook")
    subscription = subscribe_all(db)["stream.online"]
    forwarder()
    store_event(db, subscription, ONLINE)
    queued(db, 3)
    dispatching = threading.Thread(target=Dispatcher().run_once, daemon=True)
    dispatching.start()
    healthy.next()  # delivered while the slow receiver still holds its request
    assert slow.requests.empty() and dispatching.is_alive()
    slow.hold.set()
    slow.next()
    dispatching.join(WAIT)
    dead = db(db.hub_interest.webhook_url == "http://127.0.0.1:9/hook").select().first()
    row = next(row for row in db(db.outbox).select() if row.body["interest_id"] == dead.interest_id)
    assert row.status == "pending" and "unreachable" in row.last_error
    row.update_record(next_attempt_at=row.created_at)
    db.commit()
    Dispatcher().run_once()  # the dead receiver is paused: no new wait for a timeout
    db.rollback()
    assert "paused" in db(db.outbox.id == row.id).select().first().last_error


def test_deliveries_of_a_deleted_interest_are_dropped(world, db, receivers, forwarder):
    receiver = receivers()
    interest, _, _ = queue_one(db, forwarder, receiver.url)
    account_id = db(db.hub_interest.interest_id == interest["interest_id"]).select().first().account_id
    hub_interests.delete_interest(db, account_id, interest["interest_id"])
    db.commit()
    Dispatcher().run_once()
    row = db(db.outbox.kind == "hub_webhook").select().first()
    assert row.status == "dead" and "was deleted" in row.last_error
    assert receiver.requests.empty()


def test_private_addresses_are_refused_at_delivery_when_not_allowed(world, db, receivers, forwarder, configure):
    receiver = receivers()
    queue_one(db, forwarder, receiver.url)
    hub_settings(configure, HUB_ALLOW_PRIVATE_WEBHOOKS="false")
    Dispatcher().run_once()
    row = db(db.outbox.kind == "hub_webhook").select().first()
    assert row.status == "dead" and "HUB_ALLOW_PRIVATE_WEBHOOKS" in row.last_error
    assert receiver.requests.empty()


def test_a_delivery_goes_to_the_address_that_was_checked(world, db, forwarder, configure, monkeypatch):
    """DNS rebinding: the name answers a public address when checked, then 127.0.0.1; the event
    still goes to the public address (its Host header and TLS name being the URL's)."""
    queue_one(db, forwarder, "https://rebind.example:8443/hook")
    hub_settings(configure, HUB_ALLOW_PRIVATE_WEBHOOKS="false")
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])

    def getaddrinfo(host, port, *args, **kwargs):
        assert host == "rebind.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "https://93.184.216.34:8443/hook", status=204)
        Dispatcher().run_once()
        assert [call.request.url for call in mock.calls] == ["https://93.184.216.34:8443/hook"]
        assert mock.calls[0].request.headers["Host"] == "rebind.example:8443"
    db.rollback()
    assert db(db.outbox.kind == "hub_webhook").select().first().status == "delivered"


def test_the_forwarder_resumes_where_it_stopped(world, db, receivers, forwarder):
    receiver = receivers()
    webhook_interest(db, "alerts", receiver.url)
    subscription = subscribe_all(db)["stream.online"]
    forwarder()
    store_event(db, subscription, ONLINE)
    queued(db, 1)
    forwarder.stop()
    store_event(db, subscription, dict(ONLINE, id="10"))
    forwarder()
    queued(db, 2)
    keys = [row.idempotency_key for row in db(db.outbox.kind == "hub_webhook").select()]
    assert len(set(keys)) == 2
