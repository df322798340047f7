"""IRC messages as Twitch sends them (IRCv3 tags): a pure parser and serializer, and the Twitch
view of a chat message (badges, emotes, roles, replies). No I/O.

The parser is on the hot path of every chat line, so it uses str.split/partition and touches
tag values character by character only when they contain an escape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ESCAPE_SEQUENCE = re.compile(r"\\(.?)", re.S)  # a backslash and the character after it, if any
_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPES = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})
_FORBIDDEN = ("\r", "\n", "\0")
_new_message = object.__new__
_LOGIN = re.compile(r"[a-z0-9_]{1,25}")


def channel_name(value: str) -> str:
    """'#SomeStreamer' or 'somestreamer' → 'somestreamer'; ValueError when it is not a login."""
    name = value.strip().removeprefix("#").lower()
    if not _LOGIN.fullmatch(name):
        raise ValueError(f"not a Twitch channel name: {value!r}")
    return name


def unescape_tag_value(value: str) -> str:
    """IRCv3 tag value unescaping: \\: \\s \\\\ \\r \\n; a lone trailing backslash is dropped and an
    unknown escape gives the character itself."""
    if "\\" not in value:
        return value
    if "\\\\" in value:  # escaped backslashes first, left to right: the parts between them unescape alone
        return "\\".join(map(_unescape_part, value.split("\\\\")))
    return _unescape_part(value)


def _unescape_part(part: str) -> str:
    """Unescape text without an escaped backslash: str.replace for the usual escapes (C speed), the
    regular expression only for what is left (unknown escapes, a trailing backslash)."""
    if "\\" not in part:
        return part
    part = part.replace("\\s", " ").replace("\\:", ";").replace("\\r", "\r").replace("\\n", "\n")
    if "\\" in part:
        return _ESCAPE_SEQUENCE.sub(_unescape_one, part)
    return part


def _unescape_one(match: re.Match) -> str:
    escaped = match.group(1)
    return _UNESCAPES.get(escaped, escaped)


def escape_tag_value(value: str) -> str:
    return value.translate(_ESCAPES)


def _parse_tags(raw: str) -> dict[str, str]:
    try:  # Twitch always sends key=value; the except branch handles bare keys
        tags = dict([item.split("=", 1) for item in raw.split(";")])
    except ValueError:
        tags = {}
        for item in raw.split(";"):
            key, _, value = item.partition("=")
            tags[key] = value
    tags.pop("", None)
    if "\\" in raw:
        for key, value in tags.items():
            if "\\" in value:
                tags[key] = unescape_tag_value(value)  # replacing values while iterating is allowed
    return tags


class IrcMessage:
    """One IRC line: tags (a tag without a value is ""), source without the leading ':', the
    command, and the parameters (the trailing parameter is the last item).

    A parsed message decodes its tags on first access: most chat lines are never looked at
    closely, and tag decoding is most of the cost of parsing.
    """

    __slots__ = ("command", "params", "source", "_tags", "_raw_tags")

    def __init__(self, command: str, params: list[str] | None = None, tags: dict[str, str] | None = None,
                 source: str | None = None):
        self.command = command
        self.params = params if params is not None else []
        self.source = source
        self._tags = tags if tags is not None else {}
        self._raw_tags = ""

    @property
    def tags(self) -> dict[str, str]:
        if self._tags is None:
            self._tags = _parse_tags(self._raw_tags)
        return self._tags

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IrcMessage):
            return NotImplemented
        return (self.command, self.params, self.source, self.tags) == (
            other.command, other.params, other.source, other.tags)

    __hash__ = None

    def __repr__(self) -> str:
        return (f"IrcMessage(command={self.command!r}, params={self.params!r}, tags={self.tags!r}, "
                f"source={self.source!r})")

    @property
    def nick(self) -> str | None:
        """The nickname part of the source (`nick!user@host`)."""
        return self.source.partition("!")[0] if self.source else None

    @property
    def channel(self) -> str | None:
        """The channel of a channel message, without '#'."""
        if self.params and self.params[0].startswith("#"):
            return self.params[0][1:]
        return None

    @property
    def text(self) -> str:
        """The trailing parameter ("" when there is none)."""
        return self.params[-1] if self.params else ""

    def serialize(self) -> str:
        """The line (without CRLF) that parses back to this message; ValueError when a parameter
        cannot be sent (line breaks, NUL, or a middle parameter that is empty, has a space or
        starts with ':')."""
        parts = []
        if self.tags:
            # an empty value is written as the bare key, as the message-format vectors and Twitch do
            parts.append("@" + ";".join(f"{key}={escape_tag_value(value)}" if value else key
                                        for key, value in self.tags.items()))
        if self.source:
            parts.append(":" + self.source)
        if not self.command or " " in self.command:
            raise ValueError(f"invalid IRC command {self.command!r}")
        parts.append(self.command)
        for index, param in enumerate(self.params):
            if any(char in param for char in _FORBIDDEN):
                raise ValueError("an IRC parameter cannot contain CR, LF or NUL")
            last = index == len(self.params) - 1
            if not param or " " in param or param.startswith(":"):
                if not last:
                    raise ValueError(f"only the last IRC parameter may be empty or hold spaces: {param!r}")
                param = ":" + param
            parts.append(param)
        return " ".join(parts)


def parse(line: str) -> IrcMessage:
    """Parse one IRC line (a trailing CRLF is ignored). ValueError when it has no command."""
    line = original = line.rstrip("\r\n")
    if not line:
        raise ValueError("empty IRC line")
    raw_tags = ""
    source = None
    if line[0] == "@":
        raw_tags, _, line = line.partition(" ")
        raw_tags = raw_tags[1:]
        line = line.lstrip(" ")
    if line.startswith(":"):
        source, _, line = line.partition(" ")
        source = source[1:]
        line = line.lstrip(" ")
    if not line or line.startswith(":"):
        raise ValueError(f"IRC line without a command: {original[:80]!r}")
    middle, separator, trailing = line.partition(" :")
    params = middle.split(" ")
    if "" in params:  # several spaces between parameters
        params = [param for param in params if param]
    if not params:
        raise ValueError(f"IRC line without a command: {original[:80]!r}")
    if separator:
        params.append(trailing)
    message = _new_message(IrcMessage)
    message.command = params.pop(0)
    message.params = params
    message.source = source
    message._raw_tags = raw_tags
    message._tags = None if raw_tags else {}
    return message


# --- Twitch's view of a message --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Emote:
    """An emote in a message: its id and the code-point range [start, end] it covers."""

    id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ReplyParent:
    """The message a chat message replies to (the reply-parent-* tags)."""

    msg_id: str
    user_id: str
    user_login: str
    display_name: str
    body: str


def badges(tags: dict[str, str], name: str = "badges") -> dict[str, str]:
    """`badges` (or `badge-info`) → {badge: version}, e.g. {"subscriber": "12"}."""
    result = {}
    for item in tags.get(name, "").split(","):
        badge, _, version = item.partition("/")
        if badge:
            result[badge] = version
    return result


def emotes(tags: dict[str, str]) -> list[Emote]:
    """`emotes` ("25:0-4,12-16/1902:6-10") → emotes ordered by position; malformed ranges skipped."""
    found = []
    for group in tags.get("emotes", "").split("/"):
        emote_id, _, ranges = group.partition(":")
        for span in ranges.split(","):
            start, _, end = span.partition("-")
            if emote_id and start.isascii() and end.isascii() and start.isdigit() and end.isdigit():
                found.append(Emote(emote_id, int(start), int(end)))
    return sorted(found, key=lambda emote: emote.start)


def reply_parent(tags: dict[str, str]) -> ReplyParent | None:
    msg_id = tags.get("reply-parent-msg-id")
    if not msg_id:
        return None
    return ReplyParent(msg_id, tags.get("reply-parent-user-id", ""), tags.get("reply-parent-user-login", ""),
                       tags.get("reply-parent-display-name", ""), tags.get("reply-parent-msg-body", ""))


def is_broadcaster(tags: dict[str, str]) -> bool:
    user_id = tags.get("user-id")
    return "broadcaster" in badges(tags) or bool(user_id and user_id == tags.get("room-id"))


def is_moderator(tags: dict[str, str]) -> bool:
    """A moderator or the broadcaster (who moderates their own channel)."""
    return tags.get("mod") == "1" or "moderator" in badges(tags) or is_broadcaster(tags)


_ACTION_PREFIX, _ACTION_SUFFIX = "\x01ACTION ", "\x01"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A chat message (PRIVMSG) with the Twitch tags decoded."""

    id: str
    channel: str
    login: str
    display_name: str
    user_id: str
    room_id: str
    text: str
    tags: dict[str, str]
    is_action: bool = False

    @classmethod
    def from_irc(cls, message: IrcMessage) -> ChatMessage:
        """ValueError unless the message is a PRIVMSG to a channel."""
        if message.command != "PRIVMSG" or len(message.params) < 2 or not message.channel:
            raise ValueError(f"not a channel PRIVMSG: {message.command}")
        text, tags = message.params[-1], message.tags
        is_action = text.startswith(_ACTION_PREFIX) and text.endswith(_ACTION_SUFFIX)
        if is_action:
            text = text[len(_ACTION_PREFIX):-len(_ACTION_SUFFIX)]
        login = message.nick or ""
        return cls(id=tags.get("id", ""), channel=message.channel, login=login,
                   display_name=tags.get("display-name") or login, user_id=tags.get("user-id", ""),
                   room_id=tags.get("room-id", ""), text=text, tags=tags, is_action=is_action)

    @property
    def badges(self) -> dict[str, str]:
        return badges(self.tags)

    @property
    def emotes(self) -> list[Emote]:
        return emotes(self.tags)

    @property
    def first_msg(self) -> bool:
        """The viewer's first message in this channel."""
        return self.tags.get("first-msg") == "1"

    @property
    def reply_parent(self) -> ReplyParent | None:
        return reply_parent(self.tags)

    @property
    def is_broadcaster(self) -> bool:
        return is_broadcaster(self.tags)

    @property
    def is_moderator(self) -> bool:
        return is_moderator(self.tags)

    @property
    def is_vip(self) -> bool:
        return self.tags.get("vip") == "1" or "vip" in self.badges

    @property
    def is_subscriber(self) -> bool:
        return self.tags.get("subscriber") == "1" or bool({"subscriber", "founder"} & self.badges.keys())
