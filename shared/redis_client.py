"""The one Redis connection pool (only when REDIS_URL is set)."""

from __future__ import annotations

from functools import lru_cache

import redis

from shared.settings import get_settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30)


def get_redis() -> redis.Redis | None:
    url = get_settings().redis_url
    return _client(url) if url else None


def key(*parts: str) -> str:
    """A namespaced Redis key: REDIS_KEY_PREFIX + parts joined by ':'."""
    return get_settings().redis_key_prefix + ":".join(parts)
