"""Request parameters of the livepulse API: times, integers and history windows. Every error
names the parameter to fix."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import Settings


class InputError(ValueError):
    """A request parameter is invalid; the message says which and why (answered with 400)."""


@dataclass(frozen=True)
class Window:
    """[start, end] in Unix seconds, both inclusive."""

    start: int
    end: int

    @property
    def seconds(self) -> int:
        return self.end - self.start


def parse_time(name: str, value: str) -> int:
    """Unix seconds, or an ISO 8601 date/time (naive = UTC), → Unix seconds."""
    text = value.strip()
    if text.isascii() and text.lstrip("-").isdigit():
        if len(text) > 12:  # beyond year 30000: no viewer count is that far away
            raise InputError(f"{name} is out of range, got {value!r}")
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} must be an ISO 8601 date/time (2024-05-01T20:00:00Z) or Unix seconds, "
                         f"got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp())


def parse_int(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {number}")
    return number


def parse_window(query: Mapping[str, str], settings: Settings, now: float, default_minutes: int = 180) -> Window:
    """from/to (either may be omitted) or the last `minutes`; at most MAX_HISTORY_MINUTES long."""
    limit = settings.max_history_minutes
    minutes = parse_int("minutes", query.get("minutes"), min(default_minutes, limit), 1, limit)
    end = parse_time("to", query["to"]) if query.get("to") else int(now)
    start = parse_time("from", query["from"]) if query.get("from") else end - minutes * 60
    if start > end:
        raise InputError("from must not be after to")
    if end - start > limit * 60:
        raise InputError(f"the window from..to is {(end - start) // 60} minutes; at most MAX_HISTORY_MINUTES "
                         f"({limit}) is allowed")
    return Window(start, end)
