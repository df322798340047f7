"""/ws/events end to end: the hub WebSocket server, the forwarder reading stored events, and
services connecting with the `websockets` client."""

from __future__ import annotations

import json
import logging
import socket
import threading

import pytest
import websocket
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from apps.twitch_webhooks import workers
from apps.twitch_webhooks.hub import accounts as hub_accounts
from apps.twitch_webhooks.hub import forwarder as hub_forwarder
from apps.twitch_webhooks.hub import service as hub
from apps.twitch_webhooks.hub.server import HubServer
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

FOLLOW = {"user_id": "42", "user_login": "fan", "broadcaster_user_id": BROADCASTER}
ONLINE = {"id": "9", "broadcaster_user_id": BROADCASTER, "type": "live", "started_at": "2024-01-01T00:00:00Z"}


@pytest.fixture
def services(configure, db):
    """alerts wants follows, stats wants stream.online, idle wants nothing; subscriptions exist."""
    hub_settings(configure)
    make_bot(db)
    accounts = {name: make_account(db, name) for name in ("alerts", "stats", "idle")}
    make_interest(db, accounts["alerts"][0], "channel.follow")
    make_interest(db, accounts["stats"][0], "stream.online")
    return accounts, subscribe_all(db)


@pytest.fixture
def start_hub(monkeypatch):
    """start_hub(**server options) → the port of a hub server with its forwarder running."""
    monkeypatch.setattr(hub_forwarder, "REGISTRY_MAX_AGE", 0.1)
    stop = threading.Event()
    started = []

    def start(**options) -> HubServer:
        server = HubServer("127.0.0.1", 0, hub.authenticate_in_thread, **options)
        server.start()
        thread = threading.Thread(target=hub_forwarder.fan_out, args=(server, stop, "test-worker", 0.02), daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    stop.set()
    for server, thread in started:
        thread.join(WAIT)
        server.stop()


def url(server: HubServer, account=None, secret: str | None = None, path: str = "/ws/events") -> str:
    query = f"?client_id={account.client_id}&client_secret={secret}" if account else ""
    return f"ws://127.0.0.1:{server.port}{path}{query}"


def received(ws, count: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=WAIT)) for _ in range(count)]


def nothing_more(ws) -> bool:
    try:
        ws.recv(timeout=0.3)
    except TimeoutError:
        return True
    return False


def test_each_service_receives_exactly_the_events_of_its_interests(services, start_hub, db):
    accounts, subscriptions = services
    server = start_hub()
    with connect(url(server, *accounts["alerts"])) as alerts, connect(url(server, *accounts["stats"])) as stats, \
            connect(url(server, *accounts["idle"])) as idle:
        wait_until(lambda: server.connections == 3)
        follow_ids = [store_event(db, subscriptions["channel.follow"], dict(FOLLOW, user_id=str(n))) for n in (1, 2)]
        online_id = store_event(db, subscriptions["stream.online"], ONLINE)
        got = received(alerts, 2)
        assert [message["id"] for message in got] == follow_ids
        assert set(got[0]) == {"id", "type", "version", "event", "received_at"}
        assert (got[0]["type"], got[0]["version"]) == ("channel.follow", "2")
        assert got[0]["event"] == dict(FOLLOW, user_id="1")
        assert got[0]["received_at"].endswith("Z")
        assert [message["id"] for message in received(stats, 1)] == [online_id]
        assert nothing_more(alerts) and nothing_more(stats) and nothing_more(idle)


@pytest.mark.parametrize("query", ["", "?client_id=svc_nope&client_secret=nope", "?client_id=svc_nope"])
def test_bad_credentials_close_with_4001(services, start_hub, query):
    server = start_hub()
    with connect(f"ws://127.0.0.1:{server.port}/ws/events{query}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
    assert closed.value.rcvd.code == 4001
    assert "client_id" in closed.value.rcvd.reason


def test_a_wrong_secret_of_a_real_account_closes_with_4001(services, start_hub):
    accounts, _ = services
    server = start_hub()
    with connect(url(server, accounts["alerts"][0], "wrong")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "invalid client_id or client_secret")


def test_other_paths_are_not_found(services, start_hub):
    server = start_hub()
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server, path="/ws/other"))
    assert refused.value.response.status_code == 404


def test_regenerated_credentials_disconnect_the_service(services, start_hub, db):
    accounts, _ = services
    server = start_hub()
    account, secret = accounts["alerts"]
    with connect(url(server, account, secret)) as ws:
        wait_until(lambda: server.connections == 1)
        hub_accounts.regenerate(db, account.client_id)
        db.commit()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
    assert closed.value.rcvd.code == 4001 and "regenerated" in closed.value.rcvd.reason


def test_a_slow_service_is_dropped_without_delaying_the_others(services, start_hub, caplog):
    caplog.set_level(logging.WARNING, logger="apps.twitch_webhooks.hub.server")
    accounts, _ = services
    server = start_hub(queue_size=4, close_timeout=0.2)
    account, secret = accounts["alerts"]
    slow = websocket.create_connection(url(server, account, secret))  # connected, never reads
    try:
        with connect(url(server, account, secret), max_size=None) as fast:
            wait_until(lambda: server.connections == 2)
            for n in range(400):  # until the slow one's socket buffers and queue are full
                server.publish([(account.id, json.dumps({"n": n, "pad": "x" * 256 * 1024}))])
                assert json.loads(fast.recv(timeout=WAIT))["n"] == n
                if "reads too slowly" in caplog.text:
                    break
            wait_until(lambda: server.connections == 1)
            server.publish([(account.id, json.dumps({"n": "after"}))])
            assert json.loads(fast.recv(timeout=WAIT))["n"] == "after"
    finally:
        slow.abort()
        slow.shutdown()
    assert "reads too slowly" in caplog.text


def reported_connections(db) -> int:
    db.rollback()  # see what the service committed
    return hub.health_data(db)["hub_connections"]


def test_connections_are_reported_for_health(services, start_hub, db, monkeypatch):
    monkeypatch.setattr(hub_forwarder, "REPORT_SECONDS", 0.05)
    accounts, _ = services
    server = start_hub()
    with connect(url(server, *accounts["alerts"])):
        wait_until(lambda: reported_connections(db) == 1)
    wait_until(lambda: reported_connections(db) == 0)


def test_the_worker_service_serves_on_the_configured_port(services, configure, db, monkeypatch):
    monkeypatch.setattr(hub_forwarder, "REPORT_SECONDS", 0.05)
    accounts, subscriptions = services
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hub_settings(configure, HOST="127.0.0.1", WADDLEBOT_WS_PORT=str(port))
    stop = threading.Event()
    service = threading.Thread(target=workers.hub_websocket, args=(stop,), daemon=True)
    service.start()
    try:
        account, secret = accounts["stats"]
        ws = None
        while ws is None:  # until the service listens
            try:
                ws = connect(f"ws://127.0.0.1:{port}/ws/events?client_id={account.client_id}&client_secret={secret}")
            except ConnectionRefusedError:
                assert service.is_alive() and not stop.wait(0.01)
        with ws:
            wait_until(lambda: reported_connections(db) == 1)
            online_id = store_event(db, subscriptions["stream.online"], ONLINE)
            assert json.loads(ws.recv(timeout=WAIT))["id"] == online_id
    finally:
        stop.set()
        service.join(WAIT)
    assert not service.is_alive()
    db.rollback()
    assert not db(db.hub_server).count()


def test_credentials_in_headers_and_a_cap_per_account(services, start_hub):
    accounts, _ = services
    account, secret = accounts["alerts"]
    server = start_hub(max_per_account=2)
    headers = {"X-Client-Id": account.client_id, "X-Client-Secret": secret}
    with connect(url(server), additional_headers=headers), connect(url(server), additional_headers=headers):
        wait_until(lambda: server.connections == 2)
        with connect(url(server), additional_headers=headers) as third:
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=WAIT)
        assert (closed.value.rcvd.code, server.connections) == (4009, 2)
        with connect(url(server, *accounts["stats"])):  # another account is not concerned
            wait_until(lambda: server.connections == 3)


def test_an_unknown_client_id_costs_a_secret_check_like_a_known_one(services, monkeypatch):
    """Unknown and known client ids are told apart by nothing, not even the time the check takes."""
    accounts, _ = services
    checks = []
    real = hub_accounts.verify_secret
    monkeypatch.setattr(hub_accounts, "verify_secret", lambda *args: checks.append(args) or real(*args))
    assert hub_accounts.authenticate("svc_unknown", "some-secret") is None
    assert hub_accounts.authenticate(accounts["alerts"][0].client_id, "some-secret") is None
    assert len(checks) == 2
