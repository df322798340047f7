"""A fake Twitch EventSub WebSocket server on 127.0.0.1 (the `websockets` sync server in a thread).

Each accepted socket becomes a `FakeConnection` a test drives: welcome, keepalive, notify,
reconnect, revoke, close with a code. Whatever the client sends (it may send nothing but pongs
and its closing frame) is kept in `inbound`. With `auto=True` (the sandbox, conduits) every new
socket is welcomed at once with a session id of its own, as Twitch does, and kept alive;
`notify_session` delivers to the socket of a subscription's session, and `on_close(session_id)`
hears when one ends (what a conduit needs to know its WebSocket shards)."""

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
        self.session_id: str | None = None
        self.delivered = False  # whether the last message went out

    def _send(self, message_type: str, payload: dict, message_id: str | None = None, **metadata) -> str:
        message_id = message_id or str(uuid.uuid4())
        meta = {"message_id": message_id, "message_type": message_type, "message_timestamp": _now(), **metadata}
        try:
            self.ws.send(json.dumps({"metadata": meta, "payload": payload}))
        except ConnectionClosed:
            self.delivered = False
        else:
            self.delivered = True
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

    def ping(self) -> None:
        """A WebSocket ping frame (not a Twitch message): the client answers it with a pong."""
        with contextlib.suppress(ConnectionClosed):
            self.ws.ping()

    def send_raw(self, text: str) -> None:
        self.ws.send(text)

    def close(self, code: int, reason: str = "") -> None:
        self.ws.close(code, reason)


class FakeEventSub:
    """The server; `next_connection()` returns the next socket a client opened."""

    def __init__(self, auto: bool = False, keepalive_seconds: float = 10, on_close=None):
        self.auto, self.keepalive_seconds, self.on_close = auto, keepalive_seconds, on_close
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
        self._connections.put(connection)
        try:
            for message in ws:
                connection.inbound.append(message)
        except ConnectionClosed:
            pass
        finally:
            connection.close_code = ws.close_code
            connection.closed.set()
            if connection.session_id is not None:
                self.sessions.pop(connection.session_id, None)
                if self.on_close is not None:
                    self.on_close(connection.session_id)

    def has_session(self, session_id: str | None) -> bool:
        return session_id in self.sessions

    def _start_session(self, connection: FakeConnection) -> None:
        connection.session_id = f"session-{uuid.uuid4().hex[:12]}"
        self.sessions[connection.session_id] = connection
        connection.welcome(connection.session_id, self.keepalive_seconds)

        def keep_alive() -> None:
            while not connection.closed.wait(self.keepalive_seconds / 2):
                connection.keepalive()

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
