"""Few clients cannot tie up every web thread: live streams and request bodies are capped in all
and per client, on a real threaded server, attacked through sockets as an attacker would."""

from __future__ import annotations

import socket
from contextlib import ExitStack

import pytest
import requests

from apps.twitch_chat import controllers as chat_controllers
from shared import guard
from tests.waiting import wait_until

STREAM = "/twitch_chat/api/recommendations/stream"


def client(number: int) -> dict[str, str]:
    return {"X-Real-IP": f"198.51.100.{number}"}


@pytest.fixture
def streams(live_server, admin_headers, configure, db, monkeypatch):
    """open(client number) → the response of a live stream request (closed at the end)."""
    configure(TRUST_PROXY_HEADERS="true", SSE_MAX_STREAMS="3", SSE_MAX_STREAMS_PER_CLIENT="2",
              SSE_HEARTBEAT_SECONDS="0.05")
    monkeypatch.setattr(chat_controllers, "POLL_SECONDS", 0.02)
    with ExitStack() as opened:
        def open_stream(number: int) -> requests.Response:
            headers = {**admin_headers, **client(number)}
            return opened.enter_context(requests.get(f"{live_server}{STREAM}", headers=headers, stream=True, timeout=5))
        yield open_stream


def test_live_streams_are_capped_per_client_and_in_all(streams):
    first, _ = streams(1), streams(1)
    refused = streams(1)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"
    assert "this client holds 2" in refused.json()["message"]
    assert streams(2).status_code == 200
    everyone = streams(3)
    assert everyone.status_code == 503 and "all 3" in everyone.json()["message"]
    first.close()  # the server notices at its next heartbeat and gives the slot back
    wait_until(lambda: guard.stream_slots().held() == 2)
    assert streams(3).status_code == 200


def stalled_body(server: str, number: int) -> socket.socket:
    host, port = server.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"POST /login HTTP/1.1\r\nHost: x\r\nX-Real-IP: 198.51.100.{number}\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\npass".encode())
    return sock


def test_stalled_bodies_hold_a_bounded_share_of_the_threads(live_server, configure, db):
    configure(TRUST_PROXY_HEADERS="true")
    sockets = [stalled_body(live_server, 7) for _ in range(guard.BODIES_PER_CLIENT)]
    try:
        wait_until(lambda: guard._body_slots().held() == guard.BODIES_PER_CLIENT)
        refused = requests.post(f"{live_server}/login", data={"password": "x"}, headers=client(7), timeout=5)
        assert refused.status_code == 503 and "too many bodies" in refused.json()["message"]
        assert requests.get(f"{live_server}/login", headers=client(7), timeout=5).status_code == 200
        other = requests.post(f"{live_server}/login", data={"password": "x"}, headers=client(8), timeout=5)
        assert other.status_code == 401  # another client's body is read as usual
    finally:
        for sock in sockets:
            sock.close()
    wait_until(lambda: guard._body_slots().held() == 0)


def test_a_body_over_the_limit_is_413(client, configure):
    configure(REQUEST_MAX_BODY_BYTES="2048")
    answer = client.post("/login", {"password": "x" * 4096}, status=413)
    assert "REQUEST_MAX_BODY_BYTES (2048 bytes)" in answer.json["message"]
