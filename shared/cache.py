"""Cache interface: a bounded in-memory LRU with TTLs by default, Redis when REDIS_URL is set."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol

from shared import redis_client


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl: float) -> None: ...
    def delete(self, key: str) -> None: ...
    def clear(self) -> None: ...


class MemoryCache:
    """Thread-safe LRU of at most max_entries values, each with its own expiry (any Python value:
    only the Redis cache needs bytes)."""

    def __init__(self, max_entries: int = 10000):
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class RedisCache:
    """Shared by every process and replica; keys live under REDIS_KEY_PREFIX + namespace."""

    def __init__(self, client, namespace: str):
        self.client = client
        self.namespace = namespace

    def _key(self, key: str) -> str:
        return redis_client.key("cache", self.namespace, key)

    def get(self, key: str) -> bytes | None:
        return self.client.get(self._key(key))

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self.client.set(self._key(key), value, px=max(1, int(ttl * 1000)))

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))

    def clear(self) -> None:
        pattern = redis_client.key("cache", self.namespace, "*")
        for found in self.client.scan_iter(match=pattern, count=500):
            self.client.delete(found)


_caches: dict[str, Cache] = {}
_local_caches: dict[str, MemoryCache] = {}
_caches_lock = threading.Lock()


def get_cache(namespace: str, max_entries: int = 10000) -> Cache:
    """The cache of one namespace (e.g. 'helix', 'oembed'): Redis when configured, else memory."""
    with _caches_lock:
        if namespace not in _caches:
            client = redis_client.get_redis()
            _caches[namespace] = RedisCache(client, namespace) if client else MemoryCache(max_entries)
        return _caches[namespace]


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
