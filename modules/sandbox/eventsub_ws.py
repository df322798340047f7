"""A fake Twitch EventSub WebSocket server on 127.0.0.1 (the `websockets` sync server in a thread).

Each accepted socket becomes a `FakeConnection` a test drives: welcome, keepalive, notify,
reconnect, revoke, close with a code. Whatever the client sends (it may send nothing but pongs
and its closing frame) is kept in `inbound`. With `auto=True` (the sandbox) every new socket is
welcomed with its own session id and kept alive, and `notify_session` delivers to the socket of a
subscription's session."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import queue
import threading
import uuid

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

_numbers = itertools.count(1)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def ws_subscription(sub_type: str = "channel.follow", version: str = "2", condition: dict | None = None,
                    session_id: str = "session-1", sub_id: str | None = None, status: str = "enabled") -> dict:
    return {"id": sub_id or f"sub-{next(_numbers)}", "status": status, "type": sub_type, "version": version,
            "condition": condition or {"broadcaster_user_id": "1001", "moderator_user_id": "999"},
            "transport": {"method": "websocket", "session_id": session_id}, "created_at": _now(), "cost": 0}


class FakeConnection:
    def __init__(self, ws: ServerConnection):
        self.ws = ws
        self.path = ws.request.path
        self.inbound: list = []
        self.closed = threading.Event()
        self.close_code: int | None = None

    def _send(self, message_type: str, payload: dict, message_id: str | None = None, **metadata) -> str:
        message_id = message_id or str(uuid.uuid4())
        meta = {"message_id": message_id, "message_type": message_type, "message_timestamp": _now(), **metadata}
        with contextlib.suppress(ConnectionClosed):
            self.ws.send(json.dumps({"metadata": meta, "payload": payload}))
        return message_id

    def welcome(self, session_id: str = "session-1", keepalive: float = 10) -> None:
        session = {"id": session_id, "status": "connected", "keepalive_timeout_seconds": keepalive,
                   "reconnect_url": None, "connected_at": _now()}
        self._send("session_welcome", {"session": session})

    def keepalive(self) -> None:
        self._send("session_keepalive", {})

    def notify(self, subscription: dict, event: dict, message_id: str | None = None) -> str:
        return self._send("notification", {"subscription": subscription, "event": event}, message_id,
                          subscription_type=subscription["type"], subscription_version=subscription["version"])

    def reconnect(self, url: str, session_id: str = "session-1") -> None:
        session = {"id": session_id, "status": "reconnecting", "keepalive_timeout_seconds": None,
                   "reconnect_url": url, "connected_at": _now()}
        self._send("session_reconnect", {"session": session})

    def revoke(self, subscription: dict) -> None:
        self._send("revocation", {"subscription": subscription},
                   subscription_type=subscription["type"], subscription_version=subscription["version"])

    def send_raw(self, text: str) -> None:
        self.ws.send(text)

    def close(self, code: int, reason: str = "") -> None:
        self.ws.close(code, reason)


class FakeEventSub:
    """The server; `next_connection()` returns the next socket a client opened."""

    def __init__(self, auto: bool = False, keepalive_seconds: float = 10):
        self.auto = auto
        self.keepalive_seconds = keepalive_seconds
        self.sessions: dict[str, FakeConnection] = {}
        self._connections: queue.Queue[FakeConnection] = queue.Queue()
        self.server = serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        self.port = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _handle(self, ws: ServerConnection) -> None:
        connection = FakeConnection(ws)
        if self.auto:
            self._start_session(connection)
        else:
            self._connections.put(connection)
        try:
            for message in ws:
                connection.inbound.append(message)
        except ConnectionClosed:
            pass
        finally:
            connection.close_code = ws.close_code
            connection.closed.set()

    def _start_session(self, connection: FakeConnection) -> None:
        session_id = f"sandbox-session-{uuid.uuid4().hex[:12]}"
        self.sessions[session_id] = connection
        connection.welcome(session_id, self.keepalive_seconds)

        def keep_alive() -> None:
            while not connection.closed.wait(self.keepalive_seconds / 2):
                connection.keepalive()
            self.sessions.pop(session_id, None)

        threading.Thread(target=keep_alive, daemon=True).start()

    def notify_session(self, subscription: dict, event: dict) -> bool:
        """Deliver to the socket of the subscription's session; False when it is not connected."""
        connection = self.sessions.get(subscription["transport"].get("session_id", ""))
        if connection is None or connection.closed.is_set():
            return False
        connection.notify(subscription, event)
        return True

    def next_connection(self, timeout: float = 5.0) -> FakeConnection:
        return self._connections.get(timeout=timeout)

    def no_connection_within(self, seconds: float) -> bool:
        try:
            self._connections.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(5)
