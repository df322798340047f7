"""Twitch viewer counts for livepulse, through the one Helix pipeline (shared.helix)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.helix.client import helix_request

LOGIN = re.compile(r"^[A-Za-z0-9_]{3,25}$")
MAX_LOGINS_PER_CALL = 100


class TwitchLookupError(Exception):
    """Helix answered a lookup with an error status."""


@dataclass(frozen=True)
class TwitchChannel:
    login: str
    display_name: str


@dataclass(frozen=True)
class TwitchStream:
    login: str
    viewers: int
    title: str


def _data(path: str, params: list[tuple[str, str]], cache_ttl: float | None = None) -> list[dict]:
    response = helix_request("GET", path, params=params, cache_ttl=cache_ttl)
    if not response.ok:
        raise TwitchLookupError(f"Helix {path} answered {response.status}")
    return response.json().get("data") or []


def find_channel(login: str) -> TwitchChannel | None:
    """The Twitch user with this login, or None when there is none."""
    users = _data("users", [("login", login.lower())])
    if not users:
        return None
    return TwitchChannel(login=users[0]["login"], display_name=users[0].get("display_name") or users[0]["login"])


def live_streams(logins: list[str]) -> dict[str, TwitchStream]:
    """The live streams among these logins (lower-case login → stream); absent = offline.
    One Helix streams call per 100 logins, never cached: counts must be fresh."""
    found: dict[str, TwitchStream] = {}
    for start in range(0, len(logins), MAX_LOGINS_PER_CALL):
        chunk = logins[start:start + MAX_LOGINS_PER_CALL]
        params = [("user_login", login) for login in chunk] + [("first", str(MAX_LOGINS_PER_CALL))]
        for item in _data("streams", params, cache_ttl=0):
            if item.get("type", "live") == "live":
                login = item["user_login"].lower()
                found[login] = TwitchStream(login, int(item.get("viewer_count") or 0), item.get("title", ""))
    return found
