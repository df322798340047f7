"""A fake Twitch chat server (IRC over WebSocket) on 127.0.0.1. It answers like Twitch: 001 for a
valid token and "Login authentication failed" otherwise, JOIN echoed with USERSTATE (mod=1 in
`moderated` channels), PART echoed; every line received is kept, and `say` makes a viewer speak in
a channel (a tagged PRIVMSG to every connection that joined it). For reconnect drills a test can
make it answer every login with RECONNECT (`reconnect_at_login`) and hold the JOINs of any
connection after the first (`later_joins`)."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable, Iterable

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from modules.twitch.irc import parse

_message_ids = itertools.count(1)


class FakeChat:
    """`tokens` are the accepted tokens (without "oauth:"); `accept` decides instead when given."""

    def __init__(self, tokens: Iterable[str] = ("good",), moderated: Iterable[str] = (),
                 accept: Callable[[str], bool] | None = None):
        self.tokens = set(tokens)
        self.accept = accept
        self.moderated = set(moderated)
        self.received: list[str] = []
        self.connections: list[ServerConnection] = []
        self.joined: dict[ServerConnection, set[str]] = {}
        self.logins = 0
        self.ended = 0  # connections closed
        self.reconnect_at_login = False  # answer every login with RECONNECT at once
        self.later_joins = threading.Event()  # JOINs on a connection after the first wait for this
        self.later_joins.set()
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def lines(self, command: str) -> list[str]:
        return [line for line in self.received if parse(line).command == command]

    def send(self, *lines: str) -> None:
        self.connections[-1].send("\r\n".join(lines) + "\r\n")

    def say(self, channel: str, login: str, user_id: str, text: str) -> int:
        """A viewer's chat message in #channel; returns how many connections received it."""
        channel = channel.lower().lstrip("#")
        tags = (f"@badge-info=;badges=;color=#1E90FF;display-name={login};emotes=;first-msg=0;"
                f"id=sandbox-{next(_message_ids)};mod=0;room-id=0;subscriber=0;turbo=0;user-id={user_id};"
                f"user-type=")
        line = f"{tags} :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{channel} :{text}\r\n"
        with self._lock:
            targets = [connection for connection, channels in self.joined.items() if channel in channels]
        for connection in targets:
            try:
                connection.send(line)
            except ConnectionClosed:
                continue
        return len(targets)

    def channels(self) -> set[str]:
        """Every channel some connection is in."""
        with self._lock:
            return set().union(*self.joined.values()) if self.joined else set()

    def drop(self) -> None:
        """Cut the TCP connection without a WebSocket close."""
        self.connections[-1].socket.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _valid(self, token: str | None) -> bool:
        if token is None:
            return False
        return self.accept(token) if self.accept else token in self.tokens

    def _handle(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        state: dict = {"token": None}
        try:
            for frame in connection:
                for line in frame.split("\r\n"):
                    if line:
                        self.received.append(line)
                        self._answer(connection, parse(line), state)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.joined.pop(connection, None)
                self.ended += 1

    def _answer(self, connection: ServerConnection, message, state: dict) -> None:
        if message.command == "PASS":
            state["token"] = message.text.removeprefix("oauth:")
        elif message.command == "NICK" and self._valid(state["token"]):
            self.logins += 1
            state["nick"] = message.text
            connection.send(f":tmi.twitch.tv 001 {message.text} :Welcome, GLHF!\r\n"
                            f":tmi.twitch.tv 376 {message.text} :>"
                            + ("\r\n:tmi.twitch.tv RECONNECT" if self.reconnect_at_login else ""))
        elif message.command == "NICK":
            connection.send(":tmi.twitch.tv NOTICE * :Login authentication failed")
            connection.close()
        elif message.command == "JOIN":
            if connection is not self.connections[0]:
                self.later_joins.wait(5)
            nick, channel = state["nick"], message.params[0]
            with self._lock:
                self.joined.setdefault(connection, set()).add(channel[1:])
            mod = "1" if channel[1:] in self.moderated else "0"
            connection.send(f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN {channel}\r\n"
                            f"@badges=;mod={mod} :tmi.twitch.tv USERSTATE {channel}")
        elif message.command == "PART":
            nick = state["nick"]
            with self._lock:
                self.joined.get(connection, set()).discard(message.params[0][1:])
            connection.send(f":{nick}!{nick}@{nick}.tmi.twitch.tv PART {message.params[0]}")
