"""Cache policy of the Helix pipeline: TTLs per endpoint, keys scoped by token, stored entries and
the single-flight table that turns concurrent identical misses into one upstream call."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.crypto import digest

#: seconds a 2xx answer is kept per Helix path; HELIX_CACHE_TTLS overrides or adds entries
DEFAULT_TTLS = {"users": 300.0, "moderation/channels": 60.0, "chat/chatters": 0.0}

T = TypeVar("T")
log = logging.getLogger(__name__)


def cache_ttls(override_json: str) -> dict[str, float]:
    """DEFAULT_TTLS updated by the HELIX_CACHE_TTLS JSON object (already validated as an object)."""
    ttls = dict(DEFAULT_TTLS)
    for path, seconds in (json.loads(override_json) if override_json else {}).items():
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            ttls[path.strip("/")] = float(seconds)
        else:
            log.warning("HELIX_CACHE_TTLS: %r must map to a number of seconds >= 0, got %r; ignored", path, seconds)
    return ttls


def cache_key(method: str, path: str, params: list[tuple[str, str]], identity: str) -> str:
    """Method + path + sorted query + the caller's token identity, so one token's data never serves
    another. The query is hashed to keep keys short (100 logins make a long query)."""
    canonical = json.dumps([method, path, sorted(params), identity])
    return f"{method}:{path}:{digest(canonical)}"


def encode_entry(status: int, headers: dict[str, str], body: bytes) -> bytes:
    return json.dumps({"status": status, "headers": headers}).encode() + b"\n" + body


def decode_entry(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    meta, _, body = raw.partition(b"\n")
    parsed = json.loads(meta)
    return parsed["status"], parsed["headers"], body


@dataclass
class _Flight(Generic[T]):
    done: threading.Event = field(default_factory=threading.Event)
    result: T | None = None
    error: BaseException | None = None


class SingleFlight(Generic[T]):
    """Concurrent calls with the same key share the first caller's result (or exception)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}

    def run(self, key: str, work: Callable[[], T], on_wait: Callable[[], object] | None = None) -> tuple[T, bool]:
        """(result, whether this caller did the work); on_wait runs when a caller joins a flight."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            if on_wait is not None:
                on_wait()
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result, False
        try:
            flight.result = work()
        except BaseException as err:
            flight.error = err
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.result, True
