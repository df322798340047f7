"""Singleton locks, so two workers never run the same service: a Redis lock when REDIS_URL is
set, a PostgreSQL advisory lock on PostgreSQL, a file lock under var/locks on SQLite."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import portalocker
import psycopg2
import redis

from shared import redis_client
from shared.db import normalize_uri
from shared.settings import Settings, get_settings


class ServiceLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock without waiting; True when this process now holds it."""

    def still_held(self) -> bool:
        """Renew the lock if needed; False when it was lost."""

    def release(self) -> None: ...


log = logging.getLogger(__name__)


class RedisServiceLock:
    """A Redis key with a TTL, renewed by `still_held`. The lock is lost only when Redis says
    another holder has it (or it expired), or when TTL seconds passed since the last renewal
    Redis confirmed: a Redis error meanwhile (a restart, a pause, a network blip) is not a loss,
    since the key outlives it."""

    TTL = 30

    def __init__(self, client, name: str, clock: Callable[[], float] = time.monotonic):
        self.lock = client.lock(redis_client.key("lock", name), timeout=self.TTL, thread_local=False)
        self._clock = clock
        self._renewed_at: float | None = None  # when the last confirmed renewal was sent

    def acquire(self) -> bool:
        asked = self._clock()
        held = self.lock.acquire(blocking=False)
        self._renewed_at = asked if held else None
        return held

    def still_held(self) -> bool:
        if self._renewed_at is None:
            return False
        asked = self._clock()
        try:
            self.lock.reacquire()
        except redis.exceptions.LockError:  # not ours any more: expired, or another holder
            return False
        except redis.exceptions.RedisError as err:
            left = self.TTL - (asked - self._renewed_at)
            if left <= 0:
                return False
            log.warning("could not renew lock %s (%s); it stays held for %.0f s more", self.lock.name,
                        err.__class__.__name__, left)
            return True
        self._renewed_at = asked
        return True

    def release(self) -> None:
        self._renewed_at = None
        try:
            self.lock.release()
        except Exception:
            pass


class PostgresServiceLock:
    """pg_try_advisory_lock on a connection of its own, held while the service runs."""

    def __init__(self, uri: str, name: str):
        self.uri = uri.replace("postgres://", "postgresql://", 1)
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.conn = None

    def acquire(self) -> bool:
        self.conn = psycopg2.connect(self.uri)
        self.conn.autocommit = True
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            held = cursor.fetchone()[0]
        if not held:
            self.release()
        return held

    def still_held(self) -> bool:
        try:
            with self.conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:
            return False
        return True

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()  # closing the session releases its advisory locks
            self.conn = None


class FileServiceLock:
    def __init__(self, folder, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = portalocker.Lock(str(folder / f"{name}.lock"), timeout=0, fail_when_locked=True)
        self._held = threading.Event()

    def acquire(self) -> bool:
        try:
            self.lock.acquire()
        except portalocker.exceptions.LockException:
            return False
        self._held.set()
        return True

    def still_held(self) -> bool:
        return self._held.is_set()

    def release(self) -> None:
        if self._held.is_set():
            self.lock.release()
            self._held.clear()


def service_lock(name: str, settings: Settings | None = None) -> ServiceLock:
    settings = settings or get_settings()
    client = redis_client.get_redis()
    if client is not None:
        return RedisServiceLock(client, name)
    uri = normalize_uri(settings.database_url)
    if uri.startswith("postgres://"):
        return PostgresServiceLock(uri, name)
    return FileServiceLock(settings.var_dir / "locks", name)
