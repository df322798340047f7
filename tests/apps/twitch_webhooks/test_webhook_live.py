"""The receiver behind a real HTTP server: concurrent duplicates and a chunked body over the limit."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import requests

from modules.twitch import eventsub as wire
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, WEBHOOK, webhook_settings


def test_concurrent_duplicates_are_stored_once(configure, live_server, db):
    webhook_settings(configure)
    headers, body = wire.notification(SECRET, "channel.subscription.gift")
    barrier, replies = threading.Barrier(6), []

    def send():
        barrier.wait()
        replies.append(requests.post(live_server + WEBHOOK, data=body, headers=headers, timeout=30))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reply.status_code for reply in replies) == [200] * 6
    assert sorted(reply.json()["status"] for reply in replies) == ["duplicate"] * 5 + ["stored"]
    db.rollback()
    assert db(db.eventsub_event).count() == db(db.activity).count() == db(db.outbox).count() == 1


def _send_chunked(live_server: str, message: tuple[dict, bytes]) -> bytes:
    """POST the message with Transfer-Encoding: chunked (no Content-Length); the raw reply."""
    headers, body = message
    address = urlsplit(live_server)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 500]), body[i:i + 500]) for i in range(0, len(body), 500))
    request = (f"POST {WEBHOOK} HTTP/1.1\r\nHost: {address.netloc}\r\nTransfer-Encoding: chunked\r\n"
               + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
               + "Connection: close\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    reply = b""
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(request)
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def test_chunked_body_is_measured_by_its_actual_length(configure, live_server, db):
    """Without Content-Length the bytes actually received are checked against the limit."""
    webhook_settings(configure, WEBHOOK_MAX_BODY_BYTES="2048")
    small = wire.notification(SECRET, "channel.follow")
    assert _send_chunked(live_server, small).split(b"\r\n")[0].endswith(b"200 OK")
    event = {**wire.sample_event("channel.follow"), "padding": "x" * 3000}
    reply = _send_chunked(live_server, wire.notification(SECRET, "channel.follow", event=event))
    assert reply.split(b"\r\n")[0].endswith(b"413 Request Entity Too Large") and b"WEBHOOK_MAX_BODY_BYTES" in reply
    db.rollback()
    assert db(db.eventsub_event).count() == 1
