"""EventSub over WebSocket (websocket-client): Twitch's session protocol, framework-free.

An `EventSubWebSocket` keeps one session open for one user token. It connects to the EventSub
URL, hands each new session to `on_session` (which creates the subscriptions: Twitch closes an
unused connection after 10 s), passes every notification once to `on_notification` and every
revocation to `on_revocation`, watches the keepalives, follows session_reconnect without losing
or repeating an event (the old socket stays open until the new one is welcomed), and reconnects
after a close with exponential backoff and jitter: a connection that failed before its welcome
backs off further each time; one that was welcomed starts over from the first step.

Each socket has a reader thread that only queues what it receives; the thread calling `run`
handles the queue in arrival order, so the callbacks never run concurrently and a slow callback
delays no frame: the watchdog looks at when a frame arrived, not when it was handled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import websocket
from websocket import ABNF

from modules.twitch.reconnect import StateReporter, exponential_backoff

log = logging.getLogger(__name__)

EVENTSUB_WS_URL = "wss://eventsub.wss.twitch.tv/ws"
#: Twitch's close codes (https://dev.twitch.tv/docs/eventsub/handling-websocket-events/#close-message)
CLOSE_CODES = {
    4000: "internal server error",
    4001: "client sent inbound traffic (only pongs may be sent)",
    4002: "client failed ping-pong",
    4003: "connection unused: no subscription was created within 10 s of the welcome",
    4004: "reconnect grace time expired: the reconnect URL was not used within 30 s",
    4005: "network timeout",
    4006: "network error",
    4007: "invalid reconnect",
}
CONNECTION_ERRORS = (OSError, websocket.WebSocketException)


def with_keepalive(url: str, keepalive_seconds: int) -> str:
    """The EventSub URL asking Twitch for `keepalive_seconds` (10–600) between keepalives."""
    if not 10 <= keepalive_seconds <= 600:
        raise ValueError("keepalive_timeout_seconds must be between 10 and 600")
    return f"{url}{'&' if '?' in url else '?'}keepalive_timeout_seconds={keepalive_seconds}"


# --- wire types ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One EventSub WebSocket message: {metadata: {message_id, message_type, message_timestamp, …}, payload}."""

    message_id: str
    message_type: str
    timestamp: str
    metadata: dict
    payload: dict


def parse_message(data: str | bytes) -> Message:
    """Raises ValueError when the frame is not an EventSub message."""
    try:
        raw = json.loads(data)
    except ValueError as err:
        raise ValueError(f"not JSON: {err}") from None
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    payload = raw.get("payload") if isinstance(raw, dict) else None
    if not isinstance(metadata, dict) or not isinstance(payload, dict):
        raise ValueError("an EventSub message has a metadata object and a payload object")
    message_id, message_type = metadata.get("message_id"), metadata.get("message_type")
    if not isinstance(message_id, str) or not isinstance(message_type, str):
        raise ValueError("metadata.message_id and metadata.message_type must be strings")
    return Message(message_id, message_type, str(metadata.get("message_timestamp") or ""), metadata, payload)


@dataclass(frozen=True)
class Session:
    """A welcomed session. `reconnected`: it replaces a session after session_reconnect, and the
    subscriptions carried over (they must not be created again)."""

    id: str
    keepalive_seconds: float
    connected_at: str | None
    reconnected: bool


@dataclass(frozen=True)
class Notification:
    message_id: str
    timestamp: str
    subscription: dict
    event: dict

    @property
    def type(self) -> str:
        return str(self.subscription.get("type", ""))

    @property
    def version(self) -> str:
        return str(self.subscription.get("version", ""))


@dataclass(frozen=True)
class Closed:
    """Why a session ended: Twitch's close code (None when the socket failed) and a description."""

    code: int | None
    reason: str

    def describe(self) -> str:
        if self.code in CLOSE_CODES:
            return f"Twitch closed the connection with {self.code} ({CLOSE_CODES[self.code]})"
        if self.code is not None:
            return f"Twitch closed the connection with {self.code}{f' ({self.reason})' if self.reason else ''}"
        return self.reason


def _close_status(data: bytes) -> tuple[int | None, str]:
    if len(data) < 2:
        return None, "closed without a status code"
    return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")


# --- one socket ---------------------------------------------------------------------------------
class _Socket:
    """One WebSocket and the thread that reads it into the shared inbox."""

    def __init__(self, url: str, inbox: queue.Queue, clock: Callable[[], float], connect_timeout: float,
                 replaces_session: bool):
        self.url = url
        self.ws = websocket.create_connection(url, timeout=connect_timeout)
        self.ws.settimeout(None)  # the reader blocks; the watchdog and close() wake it
        self.opened_at = self.last_seen = clock()
        self.session: Session | None = None
        # opened for a session_reconnect: its session keeps the subscriptions, even when Twitch
        # closes the old socket before this one's welcome
        self.replaces_session = replaces_session
        self.discarded = False
        self._inbox, self._clock = inbox, clock
        threading.Thread(target=self._read, name="eventsub-ws-reader", daemon=True).start()

    def _read(self) -> None:
        ending = Closed(None, "the connection ended")
        try:
            while True:
                opcode, frame = self.ws.recv_data_frame(control_frame=True)
                self.last_seen = self._clock()
                if opcode == ABNF.OPCODE_CLOSE:
                    ending = Closed(*_close_status(frame.data))
                    break
                if opcode == ABNF.OPCODE_TEXT:
                    self._inbox.put((self, frame.data))
        except CONNECTION_ERRORS as err:
            ending = Closed(None, f"connection lost ({err.__class__.__name__}: {err})")
        finally:
            self._inbox.put((self, ending))
            self.ws.shutdown()

    def close(self, reason: str) -> None:
        """Say goodbye (a close frame is the one message we may send) and stop reading."""
        self.discarded = True
        with contextlib.suppress(*CONNECTION_ERRORS, ValueError):
            self.ws.send_close(websocket.STATUS_NORMAL, reason.encode()[:120])
        with contextlib.suppress(OSError, AttributeError):
            self.ws.sock.shutdown(socket.SHUT_RDWR)


# --- the client ---------------------------------------------------------------------------------
class EventSubWebSocket(StateReporter):
    """Keeps an EventSub WebSocket session open until `run(stop)` is told to stop.

    on_session(Session): a session was welcomed; create the subscriptions unless `reconnected`.
    on_notification(Notification): an event, each message id at most once per process (the
    caller's store deduplicates durably); on_revocation(subscription dict); on_state(state, detail)
    with state connecting | connected | reconnecting | stopped; on_tick() about every
    `tick_interval` s while a session is open (the place to add or remove subscriptions).
    Exceptions raised by the callbacks end `run` (after closing the sockets)."""

    def __init__(self, url: str, *, on_session: Callable[[Session], None],
                 on_notification: Callable[[Notification], None],
                 on_revocation: Callable[[dict], None] | None = None,
                 on_state: Callable[[str, str], None] | None = None, on_tick: Callable[[], None] | None = None,
                 backoff: Callable[[int], float] = exponential_backoff, keepalive_grace: float = 5.0,
                 welcome_timeout: float = 10.0, tick_interval: float = 2.0,
                 connect_timeout: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 remember_ids: int = 5000):
        self.url = url
        self._on_session, self._on_notification = on_session, on_notification
        self._on_revocation, self._on_state, self._on_tick = on_revocation, on_state, on_tick
        self._backoff, self._clock = backoff, clock
        self.keepalive_grace, self.welcome_timeout = keepalive_grace, welcome_timeout
        self.tick_interval, self.connect_timeout = tick_interval, connect_timeout
        self._inbox: queue.Queue = queue.Queue()
        self._current: _Socket | None = None  # the welcomed socket whose session is in use
        self._pending: _Socket | None = None  # a socket waiting for its welcome (fresh or reconnect)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember_ids = remember_ids
        self._last_tick = 0.0
        self._welcomed = False  # a session was welcomed since the last fresh connect
        self.state, self.detail = "stopped", ""

    @property
    def session(self) -> Session | None:
        current = self._current
        return current.session if current is not None else None

    def run(self, stop: threading.Event) -> None:
        """Stay connected until `stop` is set."""
        failures = 0
        try:
            while not stop.is_set():
                self._set_state("connecting", self.url)
                self._welcomed = False
                try:
                    self._pending = self._open(self.url)
                except CONNECTION_ERRORS as err:
                    ending = Closed(None, f"could not connect ({err.__class__.__name__}: {err})")
                else:
                    ending = self._pump(stop)
                if stop.is_set():
                    break
                if ending.code == 4001:
                    log.error("EventSub WebSocket: %s: a bug of this client, please report it", ending.describe())
                if self._welcomed:  # Twitch accepted us: a drop is the network's, retry soon
                    failures = 0
                delay = self._backoff(failures)
                failures += 1
                self._set_state("reconnecting", f"{ending.describe()}; reconnecting in {delay:.1f} s")
                stop.wait(delay)
        finally:
            self._close_all("client stopping")
            self._set_state("stopped", "")

    # -- the event loop of one fresh connection and its reconnects --------------------------------
    def _pump(self, stop: threading.Event) -> Closed:
        """Handle frames until no usable socket is left; returns why."""
        while not stop.is_set():
            try:
                sock, data = self._inbox.get(timeout=0.05)
            except queue.Empty:
                pass
            else:
                ending = self._closed(sock, data) if isinstance(data, Closed) else self._handle(sock, data)
                if ending is not None:
                    return ending
            ending = self._check_timers()
            if ending is not None:
                return ending
        return Closed(None, "stopping")

    def _check_timers(self) -> Closed | None:
        now = self._clock()
        pending, current = self._pending, self._current
        if pending is not None and now - pending.opened_at > self.welcome_timeout:
            self._drop(pending, "no welcome")
            if current is None:
                return Closed(None, f"no session_welcome within {self.welcome_timeout:g} s")
            log.warning("EventSub WebSocket: the reconnect URL sent no welcome; staying on the old session")
        if current is not None and current.session is not None:
            silent = now - current.last_seen
            if silent > current.session.keepalive_seconds + self.keepalive_grace:
                self._close_all("keepalive timeout")
                return Closed(None, f"no message for {silent:.1f} s (keepalive "
                                    f"{current.session.keepalive_seconds:g} s): the connection is presumed lost")
            if self._on_tick is not None and now - self._last_tick >= self.tick_interval:
                self._last_tick = now
                self._on_tick()
        return None

    def _closed(self, sock: _Socket, ending: Closed) -> Closed | None:
        """A socket ended; returns the ending of the whole connection when none is left."""
        if sock.discarded:
            return None
        sock.discarded = True
        if sock is self._pending:
            self._pending = None
            if self._current is None:
                return ending
            log.warning("EventSub WebSocket: the reconnect socket failed (%s); staying on the old session",
                        ending.describe())
            return None
        if sock is self._current:
            self._current = None
            if self._pending is not None:  # Twitch may drop the old socket during the handover
                return None
            return ending
        return None

    def _handle(self, sock: _Socket, data: bytes) -> None:
        try:
            message = parse_message(data)
        except ValueError as err:
            log.warning("EventSub WebSocket: ignored a malformed message: %s", err)
            return
        kind = message.message_type
        if kind == "session_welcome":
            self._welcome(sock, message)
        elif kind == "notification":
            self._notification(message)
        elif kind == "session_reconnect":
            self._reconnect(sock, message)
        elif kind == "revocation":
            self._revocation(message)
        elif kind != "session_keepalive":
            log.info("EventSub WebSocket: ignored a %s message", kind)

    def _welcome(self, sock: _Socket, message: Message) -> None:
        if sock is not self._pending:
            log.warning("EventSub WebSocket: ignored an unexpected session_welcome")
            return
        raw = message.payload.get("session") or {}
        keepalive = float(raw.get("keepalive_timeout_seconds") or 10)
        session = Session(str(raw.get("id") or ""), keepalive, raw.get("connected_at"), sock.replaces_session)
        sock.session = session
        self._drop(self._current, "reconnected")  # only now: until the welcome, events came on it
        self._current, self._pending = sock, None
        self._welcomed = True
        self._last_tick = self._clock()
        self._set_state("connected", f"session {session.id}" + (" (reconnected)" if session.reconnected else ""))
        self._on_session(session)

    def _notification(self, message: Message) -> None:
        if message.message_id in self._seen:  # sent on both sockets during a handover
            return
        payload = message.payload
        notification = Notification(message.message_id, message.timestamp, payload.get("subscription") or {},
                                    payload.get("event") or {})
        self._on_notification(notification)
        self._seen[message.message_id] = None
        if len(self._seen) > self._remember_ids:
            self._seen.popitem(last=False)

    def _reconnect(self, sock: _Socket, message: Message) -> None:
        url = (message.payload.get("session") or {}).get("reconnect_url") or ""
        if sock is not self._current or self._pending is not None:
            return
        if urlsplit(url).scheme not in ("ws", "wss"):
            log.warning("EventSub WebSocket: session_reconnect without a usable reconnect_url: %r", url)
            return
        log.info("EventSub WebSocket: Twitch asked to reconnect; opening the new socket")
        try:
            self._pending = self._open(url, replaces_session=True)
        except CONNECTION_ERRORS as err:
            log.warning("EventSub WebSocket: could not open the reconnect URL (%s); staying on the old session",
                        err.__class__.__name__)

    def _revocation(self, message: Message) -> None:
        subscription = message.payload.get("subscription") or {}
        log.warning("EventSub WebSocket: Twitch revoked subscription %s (%s): %s", subscription.get("id"),
                    subscription.get("type"), subscription.get("status"))
        if self._on_revocation is not None:
            self._on_revocation(subscription)

    # -- sockets and state ------------------------------------------------------------------------
    def _open(self, url: str, replaces_session: bool = False) -> _Socket:
        return _Socket(url, self._inbox, self._clock, self.connect_timeout, replaces_session)

    def _drop(self, sock: _Socket | None, reason: str) -> None:
        if sock is None:
            return
        sock.close(reason)
        if sock is self._pending:
            self._pending = None
        if sock is self._current:
            self._current = None

    def _close_all(self, reason: str) -> None:
        self._drop(self._pending, reason)
        self._drop(self._current, reason)
        self._inbox = queue.Queue()  # frames of dropped sockets are not handled after a fresh start

