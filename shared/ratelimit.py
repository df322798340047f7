"""Token-bucket rate limiting: in memory by default, shared through Redis (a Lua script) when
REDIS_URL is set, so every replica draws from the same buckets."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from shared import redis_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reservation:
    granted: bool
    wait: float  # seconds to wait before acting (granted) or until quota would exist (refused)
    remaining: float  # tokens left in the bucket after this reservation


class RateLimiter(Protocol):
    def reserve(self, key: str, rate: float, burst: float, max_wait: float, cost: float = 1) -> Reservation:
        """Take cost tokens, possibly in the future (wait ≤ max_wait); refuse when later than that."""

    def pause_until(self, key: str, until: float, remaining: float = 0) -> None:
        """An upstream said the bucket holds `remaining` until wall-clock time `until`."""


def _reserve(tokens: float, stamp: float, now: float, rate: float, burst: float, max_wait: float,
             cost: float) -> tuple[Reservation, float, float]:
    available = min(burst, tokens + (now - stamp) * rate) if now >= stamp else tokens - (stamp - now) * rate
    if available >= cost:
        return Reservation(True, 0.0, available - cost), available - cost, max(now, stamp)
    wait = (cost - available) / rate
    if wait > max_wait:
        return Reservation(False, wait, available), tokens, stamp
    return Reservation(True, wait, available - cost), available - cost, max(now, stamp)


class MemoryRateLimiter:
    def __init__(self):
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, rate: float, burst: float, max_wait: float, cost: float = 1) -> Reservation:
        now = time.time()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (burst, now))
            result, tokens, stamp = _reserve(tokens, stamp, now, rate, burst, max_wait, cost)
            self._buckets[key] = (tokens, stamp)
        return result

    def pause_until(self, key: str, until: float, remaining: float = 0) -> None:
        with self._lock:
            tokens, stamp = self._buckets.get(key, (remaining, 0.0))
            if until > stamp:
                self._buckets[key] = (min(tokens, remaining), until)


_RESERVE_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_wait, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]) or burst, tonumber(state[2]) or now
local available
if now >= stamp then available = math.min(burst, tokens + (now - stamp) * rate)
else available = tokens - (stamp - now) * rate end
local granted, wait = 1, 0
if available < cost then
  wait = (cost - available) / rate
  if wait > max_wait then granted = 0 end
end
if granted == 1 then
  redis.call('HSET', KEYS[1], 'tokens', available - cost, 'stamp', math.max(now, stamp))
  redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate + wait) + 60)
  return {1, tostring(wait), tostring(available - cost)}
end
return {0, tostring(wait), tostring(available)}
"""

_PAUSE_LUA = """
local until_, remaining = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]) or remaining, tonumber(state[2]) or 0
if until_ > stamp then
  redis.call('HSET', KEYS[1], 'tokens', math.min(tokens, remaining), 'stamp', until_)
  redis.call('EXPIRE', KEYS[1], 3600)
end
return 1
"""


class RedisRateLimiter:
    def __init__(self, client):
        self.client = client
        self._reserve = client.register_script(_RESERVE_LUA)
        self._pause = client.register_script(_PAUSE_LUA)

    def reserve(self, key: str, rate: float, burst: float, max_wait: float, cost: float = 1) -> Reservation:
        granted, wait, remaining = self._reserve(
            keys=[redis_client.key("bucket", key)], args=[rate, burst, max_wait, cost])
        return Reservation(bool(granted), float(wait), float(remaining))

    def pause_until(self, key: str, until: float, remaining: float = 0) -> None:
        self._pause(keys=[redis_client.key("bucket", key)], args=[until, remaining])


_limiter: RateLimiter | None = None
_limiter_lock = threading.Lock()


def get_rate_limiter() -> RateLimiter:
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            client = redis_client.get_redis()
            _limiter = RedisRateLimiter(client) if client else MemoryRateLimiter()
        return _limiter


def reset_rate_limiter() -> None:
    global _limiter
    with _limiter_lock:
        _limiter = None


_fallback = MemoryRateLimiter()  # this process's buckets while Redis does not answer
_redis_down = threading.Event()


def allow(key: str, limit: int, window_seconds: float) -> bool:
    """At most `limit` events per `window_seconds` for `key` (e.g. login attempts per client).
    While Redis does not answer, each process counts on its own (logged once per outage): a
    limit per process beats refusing everyone or failing the request."""
    rate = limit / window_seconds
    try:
        granted = get_rate_limiter().reserve(key, rate, limit, 0).granted
    except redis.exceptions.RedisError as err:
        if not _redis_down.is_set():
            _redis_down.set()
            log.warning("rate limits: Redis does not answer (%s); counting in this process until it does",
                        err.__class__.__name__)
        return _fallback.reserve(key, rate, limit, 0).granted
    if _redis_down.is_set():
        _redis_down.clear()
        log.info("rate limits: Redis answers again")
    return granted
