"""Helix wire helpers (framework-free): the error shape, Ratelimit headers, query validation."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_LOGIN = re.compile(r"^[A-Za-z0-9_]{1,25}$")
_PATH = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*$")
MAX_USERS = 100


def error_body(status: int, message: str) -> dict:
    """Helix's error shape: {"error": reason phrase, "status": code, "message": what went wrong}."""
    return {"error": http.client.responses.get(status, "Error"), "status": status, "message": message}


def error_message(body: bytes) -> str:
    """The message of a Helix error body (or a short excerpt of a body that is not Helix JSON)."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])[:300]
    return body[:200].decode("utf-8", "replace").strip() or "(empty body)"


@dataclass(frozen=True)
class RateLimit:
    """Twitch's view of a bucket: `remaining` of `limit` points until `reset` (Unix time)."""

    limit: int | None
    remaining: int
    reset: float | None


def parse_ratelimit(headers: Mapping[str, str]) -> RateLimit | None:
    """Ratelimit-Limit / -Remaining / -Reset from a case-insensitive header mapping (None if absent)."""
    remaining = _int(headers.get("Ratelimit-Remaining"))
    if remaining is None:
        return None
    reset = _int(headers.get("Ratelimit-Reset"))
    return RateLimit(_int(headers.get("Ratelimit-Limit")), remaining, float(reset) if reset is not None else None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def next_cursor(payload: dict) -> str | None:
    """The cursor of the next page of a Helix list response, or None on the last page."""
    pagination = payload.get("pagination")
    return (pagination.get("cursor") or None) if isinstance(pagination, dict) else None


def is_valid_path(path: str) -> bool:
    """A Helix endpoint path such as 'users' or 'eventsub/subscriptions' (no dots, no empty parts)."""
    return bool(_PATH.match(path))


class ParamError(ValueError):
    """A query parameter is missing or malformed; the message names it."""


class Query:
    """Validated access to a query given as (name, value) pairs (repeated names kept in order)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]):
        self.pairs = list(pairs)

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def one(self, name: str, required: bool = True) -> str | None:
        values = self.values(name)
        if len(values) > 1:
            raise ParamError(f"{name} must be given once")
        if not values or values[0] == "":
            if required:
                raise ParamError(f"missing required parameter {name}")
            return None
        return values[0]

    def user_id(self, name: str) -> str:
        value = self.one(name)
        if not _DIGITS.match(value):
            raise ParamError(f"{name} must be a numeric Twitch user id, got {value!r}")
        return value

    def first(self, maximum: int) -> str | None:
        value = self.one("first", required=False)
        if value is not None and not (value.isascii() and value.isdigit() and 1 <= int(value) <= maximum):
            raise ParamError(f"first must be an integer between 1 and {maximum}, got {value!r}")
        return value


def _page(query: Query, maximum: int) -> list[tuple[str, str]]:
    pairs = []
    for name, value in (("first", query.first(maximum)), ("after", query.one("after", required=False))):
        if value is not None:
            pairs.append((name, value))
    return pairs


def chatters_params(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Helix chat/chatters: broadcaster_id, moderator_id, optional first (≤ 1000) and after."""
    query = Query(pairs)
    return [("broadcaster_id", query.user_id("broadcaster_id")), ("moderator_id", query.user_id("moderator_id")),
            *_page(query, 1000)]


def moderated_channels_params(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Helix moderation/channels: user_id, optional first (≤ 100) and after."""
    query = Query(pairs)
    return [("user_id", query.user_id("user_id")), *_page(query, 100)]


def users_params(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Helix users: repeatable id and login, at most 100 in total (none = the token's own user)."""
    query = Query(pairs)
    ids, logins = query.values("id"), query.values("login")
    if len(ids) + len(logins) > MAX_USERS:
        raise ParamError(f"at most {MAX_USERS} id and login parameters in total, got {len(ids) + len(logins)}")
    for value in ids:
        if not _DIGITS.match(value):
            raise ParamError(f"id must be a numeric Twitch user id, got {value!r}")
    for value in logins:
        if not _LOGIN.match(value):
            raise ParamError(f"login must be 1-25 letters, digits or underscores, got {value!r}")
    return [("id", value) for value in ids] + [("login", value) for value in logins]
