"""Chat commands, Sopel style: a command is a passive, decorated function with metadata (name,
aliases, cooldowns, who may use it); the listener dispatches chat lines to the registry. A fake
chat backend records what would have been sent, for tests."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from modules.twitch.irc import ChatMessage

log = logging.getLogger(__name__)
_NAME = re.compile(r"[a-z0-9_]{1,32}")


class Permission(IntEnum):
    """Who may use a command; each level includes the ones above it in chat standing."""

    EVERYONE = 0
    SUBSCRIBER = 1
    VIP = 2
    MODERATOR = 3
    BROADCASTER = 4


def permission_of(message: ChatMessage) -> Permission:
    if message.is_broadcaster:
        return Permission.BROADCASTER
    if message.is_moderator:
        return Permission.MODERATOR
    if message.is_vip:
        return Permission.VIP
    if message.is_subscriber:
        return Permission.SUBSCRIBER
    return Permission.EVERYONE


@dataclass(frozen=True)
class ChatCommand:
    """A `!name comment…` chat line: the command name (lower case), the text after it, the message."""

    name: str
    comment: str
    message: ChatMessage

    @property
    def user(self) -> str:
        """The login of the viewer who typed the command."""
        return self.message.login

    @property
    def display_name(self) -> str:
        return self.message.display_name

    @property
    def channel(self) -> str:
        return self.message.channel


def parse_command(message: ChatMessage, prefix: str = "!") -> ChatCommand | None:
    """The command in a chat message, or None. A reply's leading '@parent' mention is skipped."""
    text = message.text.strip()
    parent = message.reply_parent
    if parent and text.lower().startswith(f"@{parent.user_login.lower()}"):
        text = text[len(parent.user_login) + 1:].lstrip()
    if not text.startswith(prefix):
        return None
    head, _, comment = text[len(prefix):].partition(" ")
    if not head:
        return None
    return ChatCommand(head.lower(), comment.strip(), message)


class ChatBackend(Protocol):
    """Where replies go: the chat client, or FakeChatBackend in tests."""

    def say(self, channel: str, text: str, reply_to: str | None = None) -> None: ...


@dataclass(frozen=True)
class Sent:
    channel: str
    text: str
    reply_to: str | None = None


@dataclass
class FakeChatBackend:
    """Records what the bot would have said."""

    sent: list[Sent] = field(default_factory=list)

    def say(self, channel: str, text: str, reply_to: str | None = None) -> None:
        self.sent.append(Sent(channel, text, reply_to))


#: a command handler gets the invocation and returns the reply to send (or None)
Handler = Callable[[ChatCommand], str | None]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    user_cooldown: float = 0.0
    channel_cooldown: float = 0.0
    permission: Permission = Permission.EVERYONE


class CommandRegistry:
    """The commands a bot knows. Declare one with the `command` decorator; `dispatch` runs it."""

    PRUNE_ABOVE = 10_000  # cooldown entries kept before expired ones are dropped

    def __init__(self, prefix: str = "!", clock: Callable[[], float] = time.monotonic):
        self.prefix = prefix
        self.clock = clock
        self._commands: dict[str, Command] = {}
        self._used: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def command(self, name: str, *, aliases: tuple[str, ...] = (), user_cooldown: float = 0.0,
                channel_cooldown: float = 0.0, permission: Permission = Permission.EVERYONE):
        """Decorator declaring a command; cooldowns are seconds per viewer and per channel."""

        def register(handler: Handler) -> Handler:
            command = Command(name, handler, tuple(aliases), user_cooldown, channel_cooldown, permission)
            for key in (name, *aliases):
                if not _NAME.fullmatch(key):
                    raise ValueError(f"command names are 1-32 lower-case letters, digits or _: {key!r}")
                if key in self._commands:
                    raise ValueError(f"command !{key} is already declared")
            self._commands.update(dict.fromkeys((name, *aliases), command))
            return handler

        return register

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower())

    @property
    def commands(self) -> list[Command]:
        return sorted({command.name: command for command in self._commands.values()}.values(),
                      key=lambda command: command.name)

    def dispatch(self, message: ChatMessage, backend: ChatBackend) -> bool:
        """Run the command in `message`, if any, and send its reply; True when a command ran.
        Viewers without the permission, or within a cooldown, are ignored silently (no spam)."""
        invocation = parse_command(message, self.prefix)
        command = self._commands.get(invocation.name) if invocation else None
        if command is None:
            return False
        if permission_of(message) < command.permission:
            log.debug("%s may not use !%s in #%s", message.login, command.name, message.channel)
            return False
        if not self._start_cooldowns(command, message):
            return False
        try:
            reply = command.handler(invocation)
        except Exception:  # one failing command must not stop the listener
            log.exception("command !%s failed in #%s", command.name, message.channel)
            return True
        if reply:
            backend.say(message.channel, reply, reply_to=message.id or None)
        return True

    def _start_cooldowns(self, command: Command, message: ChatMessage) -> bool:
        """False while the viewer's or the channel's cooldown runs, else start both."""
        user = message.user_id or message.login
        keys = {(command.name, "user", message.channel, user): command.user_cooldown,
                (command.name, "channel", message.channel): command.channel_cooldown}
        now = self.clock()
        with self._lock:
            if any(now < self._used.get(key, float("-inf")) + seconds for key, seconds in keys.items() if seconds):
                return False
            if len(self._used) > self.PRUNE_ABOVE:
                self._prune(now)
            self._used.update({key: now for key, seconds in keys.items() if seconds})
        return True

    def _prune(self, now: float) -> None:
        longest = max((max(c.user_cooldown, c.channel_cooldown) for c in self._commands.values()), default=0)
        self._used = {key: used for key, used in self._used.items() if now - used < longest}
