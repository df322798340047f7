"""Twitch chat over IRC-WebSocket (websocket-client): login, joins, keepalive, reconnects with
backoff and jitter, and sending within Twitch's rate limits.

Framework-free: the bot's token comes from `token_provider` (called at every connection) and
`on_auth_failed` (called once after Twitch rejects it; returns a refreshed token or None),
every received message goes to `on_message`, and state changes to `on_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import websocket

from modules.twitch import oauth
from modules.twitch.commands import ChatCommand, parse_command
from modules.twitch.eventsub_chat_client import CHAT_SCOPES, TWITCH_HELIX_URL, TWITCH_ID_URL, EventSubChatClient
from modules.twitch.eventsub_ws import EVENTSUB_WS_URL, with_keepalive
from modules.twitch.irc import ChatMessage, IrcMessage, channel_name, escape_tag_value, is_moderator, parse
from modules.twitch.reconnect import StateReporter, exponential_backoff

log = logging.getLogger(__name__)

TWITCH_IRC_URL = "wss://irc-ws.chat.twitch.tv:443"
CAPABILITIES = "twitch.tv/tags twitch.tv/commands twitch.tv/membership"
AUTH_FAILURES = ("Login authentication failed", "Improperly formatted auth", "Login unsuccessful")
MAX_MESSAGE_LENGTH = 500
CONNECTION_ERRORS = (OSError, websocket.WebSocketException)


class LoginFailed(Exception):
    """Twitch refused the PASS/NICK login (the token is invalid or expired)."""


class ChatAuthError(Exception):
    """Twitch rejected the bot's token, also after a refresh: someone must log the bot in again."""


@dataclass(frozen=True)
class Limits:
    """Twitch's chat limits: messages per window (more where the bot moderates), the gap between
    two messages in a channel where it does not, and JOINs per window."""

    messages: int = 20
    moderator_messages: int = 100
    message_window: float = 30.0
    channel_gap: float = 1.0
    joins: int = 20
    join_window: float = 10.0
    message_ttl: float = 120.0


class SlidingWindow:
    """Counts events over the last `window` seconds of `clock`."""

    def __init__(self, window: float, clock: Callable[[], float]):
        self.window = window
        self.clock = clock
        self.events: deque[float] = deque()

    def wait(self, limit: int) -> float:
        """Seconds until one more event fits under `limit` (0 when it fits now)."""
        now = self.clock()
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if len(self.events) < limit:
            return 0.0
        return self.events[len(self.events) - limit] + self.window - now

    def record(self) -> None:
        self.events.append(self.clock())


@dataclass(frozen=True)
class Outgoing:
    channel: str
    text: str
    reply_to: str | None
    queued_at: float


def _clean_text(text: str) -> str:
    """One line of at most MAX_MESSAGE_LENGTH characters: a line break would end the IRC command."""
    return " ".join(text.replace("\0", "").split())[:MAX_MESSAGE_LENGTH]


class ChatClient(StateReporter):
    """One IRC-WebSocket connection of one bot account, kept alive by `run(stop)` in a thread.

    `join`, `part`, `set_channels` and `say` may be called from any thread: they queue work that
    the connection thread performs within Twitch's limits."""

    def __init__(self, login: str, token_provider: Callable[[], str], *, url: str = TWITCH_IRC_URL,
                 on_message: Callable[[IrcMessage], None] | None = None,
                 on_auth_failed: Callable[[], str | None] | None = None,
                 on_state: Callable[[str, str], None] | None = None,
                 backoff: Callable[[int], float] = exponential_backoff, clock: Callable[[], float] = time.monotonic,
                 limits: Limits = Limits(), tick: float = 0.2, connect_timeout: float = 10.0,
                 login_timeout: float = 15.0, idle_timeout: float = 300.0, max_queue: int = 200):
        self.login = channel_name(login)
        self.url = url
        self._token_provider = token_provider
        self._on_message = on_message
        self._on_auth_failed = on_auth_failed
        self._on_state = on_state
        self._backoff = backoff
        self._clock = clock
        self.limits = limits
        self.tick, self.connect_timeout, self.login_timeout = tick, connect_timeout, login_timeout
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._wanted: set[str] = set()
        self._to_join: deque[str] = deque()
        self._to_part: deque[str] = deque()
        self._outbox: deque[Outgoing] = deque(maxlen=max_queue)
        self._joined: set[str] = set()
        self._moderator: dict[str, bool] = {}
        self._last_sent: dict[str, float] = {}
        self._sent = SlidingWindow(limits.message_window, clock)
        self._joins = SlidingWindow(limits.join_window, clock)
        self._logged_in = False
        self.state = "stopped"
        self.detail = ""

    # -- the thread-safe API ------------------------------------------------------------------
    def join(self, channel: str) -> None:
        self.set_channels(self.channels | {channel_name(channel)})

    def part(self, channel: str) -> None:
        self.set_channels(self.channels - {channel_name(channel)})

    @property
    def channels(self) -> set[str]:
        """The channels the client should be in (joined now or soon)."""
        with self._lock:
            return set(self._wanted)

    @property
    def joined(self) -> set[str]:
        """The channels Twitch confirmed we are in."""
        with self._lock:
            return set(self._joined)

    def set_channels(self, channels: Iterable[str]) -> None:
        """Be in exactly these channels: join the new ones, leave the others."""
        wanted = {channel_name(channel) for channel in channels}
        with self._lock:
            added, removed = wanted - self._wanted, self._wanted - wanted
            self._wanted = wanted
            self._to_join = deque(channel for channel in self._to_join if channel in wanted)
            self._to_join.extend(sorted(added))
            self._to_part.extend(sorted(removed))

    def is_moderator(self, channel: str) -> bool:
        """Whether the bot moderates `channel` (from Twitch's USERSTATE)."""
        with self._lock:
            return self._moderator.get(channel_name(channel), False)

    def say(self, channel: str, text: str, reply_to: str | None = None) -> None:
        """Queue a message (a reply when `reply_to` is a message id); sent within the limits."""
        text = _clean_text(text)
        if text:
            with self._lock:
                self._outbox.append(Outgoing(channel_name(channel), text, reply_to, self._clock()))

    # -- the connection thread ----------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Stay connected until `stop` is set. Raises ChatAuthError when Twitch rejects the token
        even after one refresh through `on_auth_failed`."""
        failures, fresh_token = 0, None
        try:
            while not stop.is_set():
                try:
                    self._session(stop, fresh_token or self._token_provider())
                except LoginFailed as err:
                    fresh_token = self._refreshed_token(err, fresh_token)
                    continue
                except CONNECTION_ERRORS as err:
                    if self._logged_in:
                        failures, fresh_token = 0, None
                    delay = self._backoff(failures)
                    failures += 1
                    self._set_state("reconnecting", f"{_describe(err)}; reconnecting in {delay:.1f} s")
                    stop.wait(delay)
                    continue
                if self._logged_in:
                    failures, fresh_token = 0, None
        except ChatAuthError as err:
            self._set_state("needs_reauth", str(err))
            raise
        self._set_state("stopped", "")

    def _refreshed_token(self, err: LoginFailed, fresh_token: str | None) -> str:
        """A new token after a failed login, or ChatAuthError when one refresh was already tried."""
        message = f"Twitch rejected the token of {self.login} ({err}); log the bot account in again"
        if fresh_token is not None or self._on_auth_failed is None:
            raise ChatAuthError(message)
        self._set_state("connecting", f"Twitch rejected the token of {self.login}; refreshing it")
        token = self._on_auth_failed()
        if not token:
            raise ChatAuthError(message)
        return token

    def _send(self, sock, line: str) -> None:
        if not line.startswith("PASS "):
            log.debug("> %s", line)
        sock.send(line)

    def _session(self, stop: threading.Event, token: str) -> None:
        """One connection: log in, then read and send until stop, RECONNECT or an error."""
        self._logged_in = False
        self._set_state("connecting", self.url)
        sock = websocket.create_connection(self.url, timeout=self.connect_timeout)
        try:
            sock.settimeout(self.tick)
            self._send(sock, f"CAP REQ :{CAPABILITIES}")
            self._send(sock, f"PASS oauth:{token.removeprefix('oauth:')}")
            self._send(sock, f"NICK {self.login}")
            with self._lock:
                self._joined.clear()
                self._moderator.clear()
                self._to_join = deque(sorted(self._wanted))
                self._to_part.clear()
            self._read_loop(sock, stop)
        finally:
            with contextlib.suppress(*CONNECTION_ERRORS):
                sock.close(timeout=1)

    def _read_loop(self, sock, stop: threading.Event) -> None:
        started = last_seen = time.monotonic()
        pinged = False
        while not stop.is_set():
            if self._logged_in:
                self._flush(sock)
            try:
                data = sock.recv()
            except websocket.WebSocketTimeoutException:
                now = time.monotonic()
                if not self._logged_in and now - started > self.login_timeout:
                    raise ConnectionError(f"no answer to the login within {self.login_timeout:.0f} s") from None
                if now - last_seen > self.idle_timeout + 30:
                    raise ConnectionError(f"no data from Twitch for {now - last_seen:.0f} s") from None
                if now - last_seen > self.idle_timeout and not pinged:
                    self._send(sock, "PING :tmi.twitch.tv")
                    pinged = True
                continue
            if not data:
                raise ConnectionError("Twitch closed the connection")
            last_seen, pinged = time.monotonic(), False
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            for line in text.split("\r\n"):
                if line and self._handle(sock, line):
                    return

    def _handle(self, sock, line: str) -> bool:
        """Act on one line; True when Twitch asks us to reconnect."""
        try:
            message = parse(line)
        except ValueError as err:
            log.warning("ignored a malformed line from Twitch: %s", err)
            return False
        command = message.command
        if command == "PING":
            self._send(sock, f"PONG :{message.text}")
        elif command == "RECONNECT":
            log.info("Twitch asked %s to reconnect", self.login)
            return True
        elif command == "001":
            self._logged_in = True
            self._set_state("connected", f"logged in as {self.login}")
        elif command == "NOTICE" and not self._logged_in and message.text.startswith(AUTH_FAILURES):
            raise LoginFailed(message.text)
        elif command in ("JOIN", "PART", "USERSTATE"):
            self._track_membership(message)
        elif command == "NOTICE":
            log.info("Twitch notice for %s: %s", message.channel or self.login, message.text)
        elif command == "CAP" and len(message.params) > 1 and message.params[1] == "NAK":
            log.error("Twitch refused the capabilities %s", message.text)
        if self._on_message is not None:
            try:
                self._on_message(message)
            except Exception:  # a handler bug must not drop the connection
                log.exception("chat message handler failed on %s", command)
        return False

    def _track_membership(self, message: IrcMessage) -> None:
        channel = message.channel
        if not channel:
            return
        with self._lock:
            if message.command == "USERSTATE":
                self._moderator[channel] = is_moderator(message.tags)
            elif message.nick == self.login and message.command == "JOIN":
                self._joined.add(channel)
            elif message.nick == self.login:
                self._joined.discard(channel)
                self._moderator.pop(channel, None)

    # -- sending within the limits --------------------------------------------------------------
    def _flush(self, sock) -> None:
        with self._lock:
            lines = [f"PART #{channel}" for channel in self._to_part]
            self._to_part.clear()
            while self._to_join and self._joins.wait(self.limits.joins) == 0:
                lines.append(f"JOIN #{self._to_join.popleft()}")
                self._joins.record()
            lines.extend(self._sendable_messages())
        for line in lines:
            self._send(sock, line)

    def _sendable_messages(self) -> list[str]:
        """Take the queued messages that may go now (called with the lock held)."""
        lines, kept, now = [], deque(maxlen=self._outbox.maxlen), self._clock()
        for message in self._outbox:
            if now - message.queued_at > self.limits.message_ttl:
                log.warning("dropped a message to #%s queued %.0f s ago", message.channel, now - message.queued_at)
            elif self._may_send(message.channel, now):
                self._sent.record()
                self._last_sent[message.channel] = now
                tags = f"@reply-parent-msg-id={escape_tag_value(message.reply_to)} " if message.reply_to else ""
                lines.append(f"{tags}PRIVMSG #{message.channel} :{message.text}")
            else:
                kept.append(message)
        self._outbox = kept
        return lines

    def _may_send(self, channel: str, now: float) -> bool:
        if channel not in self._joined:
            return False
        moderator = self._moderator.get(channel, False)
        limit = self.limits.moderator_messages if moderator else self.limits.messages
        if self._sent.wait(limit) > 0:
            return False
        last = self._last_sent.get(channel)
        return moderator or last is None or now - last >= self.limits.channel_gap


def _describe(err: Exception) -> str:
    return f"{err.__class__.__name__}: {err}" if str(err) else err.__class__.__name__


class TwitchChatListener:
    """Listen to one channel and iterate over its chat commands (the seed's API)::

        listener = TwitchChatListener(channel="somestreamer")  # TWITCH_USERNAME, TWITCH_OAUTH_TOKEN
        async for command in listener.watch_commands():
            print(command.user, command.comment)

    `transport` (default CHAT_TRANSPORT, else "irc"): "irc", "eventsub" (EventSub WebSocket +
    Send Chat Message; the token needs user:read:chat and user:write:chat) or "auto" (EventSub
    when the token grants both, which asks Twitch to validate the token once). The connection runs
    in a thread; ChatAuthError (IRC) or ChatApiError (EventSub) is raised from the iteration when
    Twitch refuses the token. Extra keyword arguments go to ChatClient or EventSubWebSocket."""

    def __init__(self, channel: str, username: str | None = None, oauth_token: str | None = None, *,
                 url: str | None = None, prefix: str = "!", transport: str | None = None, **client_options):
        username = username or os.environ.get("TWITCH_USERNAME", "")
        token = (oauth_token or os.environ.get("TWITCH_OAUTH_TOKEN", "")).removeprefix("oauth:")
        transport = transport or os.environ.get("CHAT_TRANSPORT") or "irc"
        if transport not in ("irc", "eventsub", "auto"):
            raise ValueError(f"transport must be irc, eventsub or auto, not {transport!r}")
        if not (token and (username or transport != "irc")):
            raise ValueError("a bot login and token are needed: pass username= and oauth_token=, "
                             "or set TWITCH_USERNAME and TWITCH_OAUTH_TOKEN")
        self.channel = channel_name(channel)
        self.prefix = prefix
        id_url = os.environ.get("TWITCH_ID_URL") or TWITCH_ID_URL
        if transport == "auto":
            granted = set(oauth.validate(id_url, token).scopes)
            transport = "eventsub" if CHAT_SCOPES <= granted else "irc"
        self.transport = transport
        if transport == "eventsub":
            eventsub_url = with_keepalive(url or os.environ.get("TWITCH_EVENTSUB_WS_URL") or EVENTSUB_WS_URL, 30)
            self.client = EventSubChatClient(token, [self.channel], on_message=self._chat_message,
                                             eventsub_url=eventsub_url, id_url=id_url,
                                             helix_url=os.environ.get("TWITCH_HELIX_URL") or TWITCH_HELIX_URL,
                                             **client_options)
        else:
            url = url or os.environ.get("TWITCH_IRC_URL") or TWITCH_IRC_URL
            self.client = ChatClient(username, lambda: token, url=url, on_message=self._received, **client_options)
            self.client.join(self.channel)
        self._deliver: Callable[[object], None] | None = None

    def say(self, text: str, reply_to: str | None = None) -> None:
        self.client.say(self.channel, text, reply_to)

    def _received(self, message: IrcMessage) -> None:
        if message.command == "PRIVMSG":
            self._chat_message(ChatMessage.from_irc(message))

    def _chat_message(self, message: ChatMessage) -> None:
        if self._deliver is None:
            return
        try:
            command = parse_command(message, self.prefix)
        except ValueError as err:
            log.warning("ignored a chat message: %s", err)
            return
        if command is not None:
            self._deliver(command)

    async def watch_commands(self) -> AsyncIterator[ChatCommand]:
        """Every `!command` typed in the channel, until the iteration is left."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        self._deliver = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)

        def connect() -> None:
            try:
                self.client.run(stop)
            except Exception as err:  # handed to the iterating coroutine
                self._deliver(err)

        thread = threading.Thread(target=connect, name=f"chat-{self.channel}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._deliver = None
            stop.set()
            await asyncio.to_thread(thread.join, 5)
