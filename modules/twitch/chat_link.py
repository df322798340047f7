"""One IRC-WebSocket connection of the chat client: its login, what Twitch confirmed on it
(logged in, joined channels, moderator status) and reading its lines with the keepalive."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque

import websocket

from modules.twitch.irc import IrcMessage, is_moderator

log = logging.getLogger("modules.twitch.chat_client")

CAPABILITIES = "twitch.tv/tags twitch.tv/commands twitch.tv/membership"
CONNECTION_ERRORS = (OSError, websocket.WebSocketException)


class ChatLink:
    """An open connection, logging in as `login`; `poll()` returns the lines received within one
    tick and raises ConnectionError when the connection is lost or silent too long."""

    def __init__(self, url: str, login: str, token: str, *, connect_timeout: float, tick: float,
                 login_timeout: float, idle_timeout: float):
        self.login, self.login_timeout, self.idle_timeout = login, login_timeout, idle_timeout
        self.sock = websocket.create_connection(url, timeout=connect_timeout)
        self.sock.settimeout(tick)
        self.logged_in = False
        self.reconnect_asked = False  # Twitch sent RECONNECT on this connection
        self.joined: set[str] = set()
        self.moderator: dict[str, bool] = {}
        self.to_join: deque[str] = deque()
        self.started = self.last_seen = time.monotonic()
        self._pinged = False
        try:
            self.send(f"CAP REQ :{CAPABILITIES}")
            self.send(f"PASS oauth:{token.removeprefix('oauth:')}")
            self.send(f"NICK {login}")
        except BaseException:
            self.close()
            raise

    def send(self, line: str) -> None:
        if not line.startswith("PASS "):
            log.debug("> %s", line)
        self.sock.send(line)

    def poll(self) -> list[str]:
        """The lines received within one tick ([] when none came)."""
        try:
            data = self.sock.recv()
        except websocket.WebSocketTimeoutException:
            now = time.monotonic()
            if not self.logged_in and now - self.started > self.login_timeout:
                raise ConnectionError(f"no answer to the login within {self.login_timeout:.0f} s") from None
            if now - self.last_seen > self.idle_timeout + 30:
                raise ConnectionError(f"no data from Twitch for {now - self.last_seen:.0f} s") from None
            if now - self.last_seen > self.idle_timeout and not self._pinged:
                self.send("PING :tmi.twitch.tv")
                self._pinged = True
            return []
        if not data:
            raise ConnectionError("Twitch closed the connection")
        self.last_seen, self._pinged = time.monotonic(), False
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return [line for line in text.split("\r\n") if line]

    def track_membership(self, message: IrcMessage) -> None:
        """JOIN, PART and USERSTATE of the bot itself (the caller holds the client's lock)."""
        channel = message.channel
        if not channel:
            return
        if message.command == "USERSTATE":
            self.moderator[channel] = is_moderator(message.tags)
        elif message.nick == self.login and message.command == "JOIN":
            self.joined.add(channel)
        elif message.nick == self.login:
            self.joined.discard(channel)
            self.moderator.pop(channel, None)

    def close(self) -> None:
        with contextlib.suppress(*CONNECTION_ERRORS):
            self.sock.close(timeout=1)
