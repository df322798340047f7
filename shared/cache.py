"""Cache interface: a bounded in-memory LRU with TTLs by default, Redis when REDIS_URL is set."""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from shared import redis_client


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl: float) -> None: ...
    def delete(self, key: str) -> None: ...
    def clear(self) -> None: ...


def _size(key: str, value: object) -> int:
    """The bytes an entry holds, near enough to bound a cache by (its key and value)."""
    held = len(value) if isinstance(value, (bytes, str)) else sys.getsizeof(value)
    return len(key) + held + ENTRY_OVERHEAD


ENTRY_OVERHEAD = 100  # bytes of the entry's tuple, expiry and dictionary slot
DEFAULT_MAX_BYTES = 64 * 2**20
SWEEP_EVERY_S = 30.0  # expired entries are dropped at least this often, read again or not


class MemoryCache:
    """Thread-safe LRU of at most max_entries values and max_bytes bytes, each with its own expiry
    (any Python value: only the Redis cache needs bytes). Expired entries are dropped when read and
    by a sweep at most every SWEEP_EVERY_S seconds, so they never hold memory for long."""

    def __init__(self, max_entries: int = 10000, max_bytes: int = DEFAULT_MAX_BYTES,
                 clock: Callable[[], float] = time.monotonic):
        self.max_entries, self.max_bytes, self.clock = max_entries, max_bytes, clock
        self._data: OrderedDict[str, tuple[float, object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._swept = clock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value, _ = item
            if expires < self.clock():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float) -> None:
        size = _size(key, value)
        with self._lock:
            now = self.clock()
            self._drop(key)
            if size > self.max_bytes:
                return
            self._data[key] = (now + ttl, value, size)
            self._bytes += size
            if now - self._swept >= SWEEP_EVERY_S:
                self._sweep(now)
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._data)))

    def _drop(self, key: str) -> None:
        item = self._data.pop(key, None)
        if item is not None:
            self._bytes -= item[2]

    def _sweep(self, now: float) -> None:
        for key in [key for key, (expires, _, _) in self._data.items() if expires < now]:
            self._drop(key)
        self._swept = now

    def delete(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def bytes(self) -> int:
        """The bytes its entries hold (as bounded by max_bytes)."""
        return self._bytes


def _milliseconds(seconds: float) -> int:
    """A Redis expiry (PX) of at least 1 ms."""
    return max(1, int(seconds * 1000))


class RedisCache:
    """Shared by every process and replica; keys live under REDIS_KEY_PREFIX + namespace."""

    def __init__(self, client, namespace: str):
        self.client = client
        self.namespace = namespace

    def redis_key(self, key: str) -> str:
        return redis_client.key("cache", self.namespace, key)

    def get(self, key: str) -> bytes | None:
        return self.client.get(self.redis_key(key))

    def get_with_ttl(self, key: str) -> tuple[bytes | None, float]:
        """The value and the seconds it has left, in one round trip."""
        pipeline = self.client.pipeline(transaction=False)
        pipeline.get(self.redis_key(key))
        pipeline.pttl(self.redis_key(key))
        value, left_ms = pipeline.execute()
        return (value, left_ms / 1000) if value is not None and left_ms > 0 else (None, 0.0)

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self.client.set(self.redis_key(key), value, px=_milliseconds(ttl))

    def delete(self, key: str) -> None:
        self.client.delete(self.redis_key(key))

    def clear(self) -> None:
        pattern = redis_client.key("cache", self.namespace, "*")
        for found in self.client.scan_iter(match=pattern, count=500):
            self.client.delete(found)


_GET_OR_LOCK_LUA = """
local value = redis.call('GET', KEYS[1])
if value then
  return {value, 0, redis.call('PTTL', KEYS[1])}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return {false, 1, 0}
end
return {false, 0, 0}
"""


class NearCache:
    """A Redis cache fronted by this process's memory: a value read from Redis is kept here until
    Redis expires it, so reading it again costs no round trip. For values that are written once
    and left to expire (a value changed or deleted by another process is not seen here before)."""

    def __init__(self, shared: RedisCache, max_entries: int):
        self.shared, self.local = shared, MemoryCache(max_entries)
        self._get_or_lock = shared.client.register_script(_GET_OR_LOCK_LUA)

    def get(self, key: str) -> bytes | None:
        value = self.local.get(key)
        return value if value is not None else self._keep(key, *self.shared.get_with_ttl(key))

    def _keep(self, key: str, value: bytes | None, ttl: float) -> bytes | None:
        """A value read from Redis, kept here for the `ttl` seconds Redis still keeps it."""
        if value is not None and ttl > 0:
            self.local.set(key, value, ttl)
            return value
        return None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self.shared.set(key, value, ttl)
        self.local.set(key, value, ttl)

    def get_or_lock(self, key: str, lock: str, lock_ttl: float) -> tuple[bytes | None, bool]:
        """In one round trip (a script, so nothing comes in between): the value stored now, or
        else `lock` (a Redis key, SET NX, expiring after lock_ttl) taken if it was free. Returns
        (the value, whether this caller took the lock)."""
        value, taken, left_ms = self._get_or_lock(keys=[self.shared.redis_key(key), lock],
                                                  args=[_milliseconds(lock_ttl)])
        return self._keep(key, value, left_ms / 1000), bool(taken)

    def set_and_unlock(self, key: str, value: bytes, ttl: float, lock: str) -> None:
        """Store the value, then release `lock`, in one round trip."""
        pipeline = self.shared.client.pipeline(transaction=False)
        pipeline.set(self.shared.redis_key(key), value, px=_milliseconds(ttl))
        pipeline.delete(lock)
        pipeline.execute()
        self.local.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.shared.delete(key)
        self.local.delete(key)

    def clear(self) -> None:
        self.shared.clear()
        self.local.clear()


_caches: dict[tuple[str, bool], Cache] = {}
_local_caches: dict[str, MemoryCache] = {}
_caches_lock = threading.Lock()


def get_cache(namespace: str, max_entries: int = 10000, near: bool = False) -> Cache:
    """The cache of one namespace (e.g. 'helix', 'oembed'): Redis when configured, else memory.
    `near`: with Redis, also keep what was read in this process (see NearCache)."""
    with _caches_lock:
        client = redis_client.get_redis()
        near = near and client is not None
        if (namespace, near) not in _caches:
            if client is None:
                _caches[(namespace, near)] = MemoryCache(max_entries)
            elif near:
                _caches[(namespace, near)] = NearCache(RedisCache(client, namespace), max_entries)
            else:
                _caches[(namespace, near)] = RedisCache(client, namespace)
        return _caches[(namespace, near)]


def get_local_cache(namespace: str, max_entries: int = 10000) -> MemoryCache:
    """A cache in this process's memory even with Redis: for lookups that a round trip to Redis
    would not make cheaper than the database read they save."""
    with _caches_lock:
        if namespace not in _local_caches:
            _local_caches[namespace] = MemoryCache(max_entries)
        return _local_caches[namespace]


def reset_caches() -> None:
    """Forget the cache objects (after the settings change)."""
    with _caches_lock:
        _caches.clear()
        _local_caches.clear()
