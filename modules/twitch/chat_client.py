"""Twitch chat over IRC-WebSocket (websocket-client): login, joins, keepalive, reconnects with
backoff and jitter (and at most one login per `min_connect_interval`), a RECONNECT handed over
to a new connection without missing chat, and sending within Twitch's rate limits.

Framework-free: the bot's token comes from `token_provider` (called at every connection) and
`on_auth_failed` (called once after Twitch rejects it; returns a refreshed token or None),
every received message goes to `on_message`, and state changes to `on_state`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from modules.twitch.chat_limits import Limits, SlidingWindow
from modules.twitch.chat_link import CONNECTION_ERRORS, ChatLink
from modules.twitch.commands import ChatCommand, parse_command
from modules.twitch.irc import ChatMessage, IrcMessage, escape_tag_value, parse
from modules.twitch.reconnect import StateReporter, exponential_backoff

log = logging.getLogger(__name__)

TWITCH_IRC_URL = "wss://irc-ws.chat.twitch.tv:443"
AUTH_FAILURES = ("Login authentication failed", "Improperly formatted auth", "Login unsuccessful")
MAX_MESSAGE_LENGTH = 500
SEEN_IDS = 1000  # chat message ids remembered to hand each over once during a handover
_LOGIN = re.compile(r"[a-z0-9_]{1,25}")


class LoginFailed(Exception):
    """Twitch refused the PASS/NICK login (the token is invalid or expired)."""


class ChatAuthError(Exception):
    """Twitch rejected the bot's token, also after a refresh: someone must log the bot in again."""


def channel_name(value: str) -> str:
    """'#SomeStreamer' or 'somestreamer' → 'somestreamer'; ValueError when it is not a login."""
    name = value.strip().removeprefix("#").lower()
    if not _LOGIN.fullmatch(name):
        raise ValueError(f"not a Twitch channel name: {value!r}")
    return name


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
                 login_timeout: float = 15.0, idle_timeout: float = 300.0, max_queue: int = 200,
                 min_connect_interval: float = 2.0):
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
        self.idle_timeout, self.min_connect_interval = idle_timeout, min_connect_interval
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
        self._link: ChatLink | None = None  # the connection in use (it sends)
        self._failures = 0  # connections that failed in a row before they were in use
        self._connect_after = float("-inf")  # the backoff: no connection before this time
        self._last_connect = float("-inf")
        self._seen: OrderedDict[str, None] = OrderedDict()  # recent chat message ids
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
        fresh_token = None
        try:
            while not stop.is_set():
                if self._wait_to_connect(stop):
                    break
                try:
                    self._session(stop, lambda token=fresh_token: token or self._token_provider())
                except LoginFailed as err:
                    fresh_token = self._refreshed_token(err, fresh_token)
                    continue
                except CONNECTION_ERRORS as err:
                    self._failed(f"{_describe(err)}; reconnecting")
                    continue
                if self._failures == 0:
                    fresh_token = None
        except ChatAuthError as err:
            self._set_state("needs_reauth", str(err))
            raise
        self._set_state("stopped", "")

    def _failed(self, why: str) -> None:
        """A connection failed before it was in use: the next one waits a longer backoff."""
        delay = self._backoff(self._failures)
        self._failures += 1
        self._connect_after = max(self._connect_after, self._clock() + delay)
        self._set_state("reconnecting", f"{why} in {delay:.1f} s")

    def _wait_to_connect(self, stop: threading.Event) -> bool:
        """Wait for the backoff and the minimum interval between logins; True when stopping."""
        while not stop.is_set():
            remaining = max(self._connect_after, self._last_connect + self.min_connect_interval) - self._clock()
            if remaining <= 0:
                return False
            stop.wait(min(remaining, self.tick))
        return True

    def _connect(self, token: Callable[[], str]) -> ChatLink:
        self._last_connect = self._clock()
        return ChatLink(self.url, self.login, token(), connect_timeout=self.connect_timeout, tick=self.tick,
                        login_timeout=self.login_timeout, idle_timeout=self.idle_timeout)

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

    def _session(self, stop: threading.Event, token: Callable[[], str]) -> None:
        """One connection and, after each RECONNECT, its successor: the old connection is read
        (and answers chat) until the new one has logged in and joined every channel, so nothing
        said meanwhile is missed. Returns when stopping; raises when the last connection fails."""
        self._set_state("connecting", self.url)
        current, pending = self._adopt(self._connect(token), fresh=True), None
        try:
            while not stop.is_set():
                if pending is None and current.reconnect_asked and self._clock() >= max(
                        self._connect_after, self._last_connect + self.min_connect_interval):
                    try:
                        pending = self._connect(token)
                    except CONNECTION_ERRORS as err:
                        self._failed(f"the new connection failed ({_describe(err)}); staying on the old one, retrying")
                try:
                    self._serve(current, primary=True)
                except CONNECTION_ERRORS:
                    current.close()
                    if pending is None:
                        raise
                    current, pending = self._adopt(pending), None
                    continue
                if pending is not None:
                    pending = self._advance(pending)
                    if pending is not None and pending.logged_in and self.channels <= pending.joined:
                        current.close()
                        current, pending = self._adopt(pending), None
                        log.info("%s moved to its new connection", self.login)
        finally:
            for link in (current, pending):
                if link is not None:
                    link.close()

    def _advance(self, pending: ChatLink) -> ChatLink | None:
        """Read the new connection and send its joins; None when it failed (closed, then)."""
        try:
            self._serve(pending, primary=False)
            if pending.reconnect_asked:
                raise ConnectionError("Twitch asked the new connection to reconnect too")
        except CONNECTION_ERRORS as err:
            pending.close()
            self._failed(f"the new connection failed ({_describe(err)}); staying on the old one, retrying")
            return None
        return pending

    def _adopt(self, link: ChatLink, fresh: bool = False) -> ChatLink:
        """Make `link` the connection that sends; on a fresh start it joins every channel."""
        with self._lock:
            self._link = link
            self._joined, self._moderator = link.joined, link.moderator
            self._to_join = deque(sorted(self._wanted - link.joined))
            self._to_part = deque() if fresh else deque(sorted(link.joined - self._wanted))
        if link.logged_in:
            self._set_state("connected", f"logged in as {self.login}")
        return link

    def _serve(self, link: ChatLink, primary: bool) -> None:
        """One tick of a connection: send what may go (joins only on a new one), handle what came."""
        if link.logged_in:
            if primary:
                self._flush(link)
            else:
                self._flush_joins(link)
        for line in link.poll():
            self._handle(link, line)

    def _handle(self, link: ChatLink, line: str) -> None:
        try:
            message = parse(line)
        except ValueError as err:
            log.warning("ignored a malformed line from Twitch: %s", err)
            return
        command = message.command
        if command == "PING":
            link.send(f"PONG :{message.text}")
        elif command == "RECONNECT":
            log.info("Twitch asked %s to reconnect", self.login)
            link.reconnect_asked = True
        elif command == "001":
            link.logged_in = True
            with self._lock:
                link.to_join = deque(sorted(self._wanted))
                self._note_in_use(link)
            if link is self._link:
                self._set_state("connected", f"logged in as {self.login}")
        elif command == "NOTICE" and not link.logged_in and message.text.startswith(AUTH_FAILURES):
            raise LoginFailed(message.text)
        elif command in ("JOIN", "PART", "USERSTATE"):
            with self._lock:
                link.track_membership(message)
                self._note_in_use(link)
        elif command == "NOTICE":
            log.info("Twitch notice for %s: %s", message.channel or self.login, message.text)
        elif command == "CAP" and len(message.params) > 1 and message.params[1] == "NAK":
            log.error("Twitch refused the capabilities %s", message.text)
        self._deliver(message)

    def _note_in_use(self, link: ChatLink) -> None:
        """Logged in and in every channel: a later failure starts the backoff over (lock held)."""
        if link.logged_in and self._wanted <= link.joined and not link.reconnect_asked:
            self._failures = 0

    def _deliver(self, message: IrcMessage) -> None:
        """Hand a message to on_message, once: during a handover both connections receive chat."""
        message_id = message.tags.get("id") if message.command in ("PRIVMSG", "USERNOTICE") else None
        if message_id:
            if message_id in self._seen:
                return
            self._seen[message_id] = None
            if len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        if self._on_message is not None:
            try:
                self._on_message(message)
            except Exception:  # a handler bug must not drop the connection
                log.exception("chat message handler failed on %s", message.command)

    # -- sending within the limits --------------------------------------------------------------
    def _flush(self, link: ChatLink) -> None:
        with self._lock:
            lines = [f"PART #{channel}" for channel in self._to_part]
            self._to_part.clear()
            lines.extend(self._joins_due(self._to_join))
            lines.extend(self._sendable_messages())
        for line in lines:
            link.send(line)

    def _flush_joins(self, link: ChatLink) -> None:
        """The JOINs of a connection that is not in use yet (it sends nothing else)."""
        with self._lock:
            lines = self._joins_due(link.to_join)
        for line in lines:
            link.send(line)

    def _joins_due(self, queue: deque[str]) -> list[str]:
        """JOIN lines for the queued channels that fit the join limit now (the lock held)."""
        lines = []
        while queue and self._joins.wait(self.limits.joins) == 0:
            lines.append(f"JOIN #{queue.popleft()}")
            self._joins.record()
        return lines

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
    """Listen to one channel and iterate over the chat commands asked for (the seed's API)::

        listener = TwitchChatListener(channel="somestreamer")  # TWITCH_USERNAME, TWITCH_OAUTH_TOKEN
        async for command in listener.watch_commands():        # !reco, as the seed's listener
            print(command.user, command.comment)

    `commands` (or the names given to watch_commands) are the commands yielded, with or without
    the prefix; other `!commands` are skipped. The connection runs in a thread; ChatAuthError is
    raised from the iteration when Twitch rejects the token. Extra keyword arguments go to ChatClient."""

    def __init__(self, channel: str, username: str | None = None, oauth_token: str | None = None, *,
                 url: str | None = None, prefix: str = "!", commands: Iterable[str] = ("reco",),
                 **client_options):
        username = username or os.environ.get("TWITCH_USERNAME", "")
        token = oauth_token or os.environ.get("TWITCH_OAUTH_TOKEN", "")
        if not (username and token):
            raise ValueError("a bot login and token are needed: pass username= and oauth_token=, "
                             "or set TWITCH_USERNAME and TWITCH_OAUTH_TOKEN")
        self.channel = channel_name(channel)
        self.prefix = prefix
        self.commands = self._names(commands)
        self._wanted = self.commands
        url = url or os.environ.get("TWITCH_IRC_URL") or TWITCH_IRC_URL
        self.client = ChatClient(username, lambda: token, url=url, on_message=self._received, **client_options)
        self.client.join(self.channel)
        self._deliver: Callable[[object], None] | None = None

    def say(self, text: str, reply_to: str | None = None) -> None:
        self.client.say(self.channel, text, reply_to)

    def _names(self, names: Iterable[str]) -> frozenset[str]:
        """Command names as parse_command gives them: lower case, without the prefix."""
        if isinstance(names, str):
            raise TypeError("commands must be a list of names, e.g. ['reco'], not one string")
        return frozenset(name.strip().removeprefix(self.prefix).lower() for name in names)

    def _received(self, message: IrcMessage) -> None:
        if message.command != "PRIVMSG" or self._deliver is None:
            return
        try:
            command = parse_command(ChatMessage.from_irc(message), self.prefix)
        except ValueError as err:
            log.warning("ignored a chat message: %s", err)
            return
        if command is not None and command.name in self._wanted:
            self._deliver(command)

    async def watch_commands(self, *names: str) -> AsyncIterator[ChatCommand]:
        """The commands `names` (default: those given to the constructor) typed in the channel,
        until the iteration is left."""
        self._wanted = self._names(names) if names else self.commands
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
