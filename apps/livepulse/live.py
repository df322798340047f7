"""Fan-out of new samples to the SSE clients of this web process.

One hub thread per process learns about new samples — from Redis pub/sub when REDIS_URL is set
(the poller publishes after each commit), otherwise by polling the database every second — reads
each new sample ONCE and keeps its encoded SSE frame in a small per-event buffer. Waiting clients
hold no database connection: they sleep on a condition and copy frames from the buffer; only a
client that fell behind the buffer reads the database itself, in short chunked queries."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis as redis_lib

from apps.livepulse.samples import last_ts, payloads_after, sse_frame
from shared import redis_client
from shared.db import get_db

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5  # database polling period without Redis
RESYNC_SECONDS = 5.0  # with Redis, also check the database this often (a message may be lost)
REDIS_RETRY_SECONDS = 5.0  # while Redis fails, poll the database and try Redis again this often
REDIS_ERRORS = (redis_lib.RedisError, OSError)
BUFFER_SIZE = 256  # frames kept per event


def channel(event_id: int | str = "*") -> str:
    return redis_client.key("livepulse", "samples", str(event_id))


def release(db) -> None:
    """End the short transaction of a read and give the connection back to the pool."""
    db.recycle_connection_in_pool_or_close("commit")


class _Outage:
    """One log line when a dependency starts failing and one when it works again, not one per try."""

    def __init__(self, what: str) -> None:
        self.what, self.down = what, False

    def failed(self, err: Exception, consequence: str) -> None:
        if not self.down:
            self.down = True
            log.warning("livepulse hub: %s failed (%s: %s); %s", self.what, err.__class__.__name__, err, consequence)

    def recovered(self) -> None:
        if self.down:
            self.down = False
            log.info("livepulse hub: %s works again", self.what)


@dataclass
class _Feed:
    listeners: int = 0
    last_ts: int | None = None  # newest sample the hub has seen; None until it first looks
    covered_from: int | None = None  # the buffer holds every sample with ts > covered_from
    frames: deque = field(default_factory=lambda: deque(maxlen=BUFFER_SIZE))  # (ts, frame)


class LiveHub:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._feeds: dict[int, _Feed] = {}
        self._pokes: set[int] = set()
        self._thread: threading.Thread | None = None

    # -- the clients' side ---------------------------------------------------------------------
    @contextmanager
    def listening(self, event_id: int):
        with self._cond:
            self._feeds.setdefault(event_id, _Feed()).listeners += 1
            self._pokes.add(event_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="livepulse-hub", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        try:
            yield self
        finally:
            with self._cond:
                feed = self._feeds.get(event_id)
                if feed is not None:
                    feed.listeners -= 1
                    if feed.listeners <= 0:
                        del self._feeds[event_id]

    def wait(self, event_id: int, after_ts: int, timeout: float) -> list[tuple[int, bytes]] | None:
        """(ts, frame) of the samples newer than after_ts, waiting at most `timeout` seconds for one.
        [] on timeout; None when they are no longer (or not yet) buffered: read the database."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                feed = self._feeds.get(event_id)
                if feed is not None and feed.last_ts is not None and feed.last_ts > after_ts:
                    if feed.covered_from is not None and after_ts >= feed.covered_from:
                        return [item for item in feed.frames if item[0] > after_ts]
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def poke(self, event_id: int) -> None:
        """A sample of this event was committed in this process: look now."""
        with self._cond:
            self._pokes.add(event_id)
            self._cond.notify_all()

    def forget(self) -> None:
        """Drop every buffered frame (the database was emptied: tests)."""
        with self._cond:
            for feed in self._feeds.values():
                feed.last_ts, feed.covered_from = None, None
                feed.frames.clear()
            self._pokes.update(self._feeds)
            self._cond.notify_all()

    # -- the hub thread ------------------------------------------------------------------------
    def _run(self) -> None:
        database, redis_outage = _Outage("reading new samples"), _Outage("Redis")
        pubsub, subscribed_with, last_resync, redis_retry_at = None, None, 0.0, 0.0
        while True:
            with self._cond:
                while not self._feeds:
                    self._cond.wait()
            redis = redis_client.get_redis()
            if redis is None or time.monotonic() < redis_retry_at:
                due = self._collect_pokes(POLL_SECONDS, everything=True)
            else:
                try:
                    if pubsub is None or subscribed_with is not redis:
                        pubsub, subscribed_with = redis.pubsub(ignore_subscribe_messages=True), redis
                        pubsub.psubscribe(channel())
                    due = self._collect_redis(pubsub)
                except REDIS_ERRORS as err:  # until Redis answers, poll the database as without Redis
                    redis_outage.failed(err, "polling the database until it answers")
                    pubsub, redis_retry_at = None, time.monotonic() + REDIS_RETRY_SECONDS
                    due = self._collect_pokes(0, everything=True)
                else:
                    redis_outage.recovered()
                    if time.monotonic() - last_resync > RESYNC_SECONDS:
                        due, last_resync = due | self._collect_pokes(0, everything=True), time.monotonic()
            try:
                self._refresh(due)
            except Exception as err:  # the hub must outlive a database outage
                database.failed(err, "retrying")
                time.sleep(POLL_SECONDS)
            else:
                database.recovered()

    def _collect_pokes(self, timeout: float, everything: bool) -> set[int]:
        with self._cond:
            if not self._pokes:
                self._cond.wait(timeout)
            due = set(self._feeds) if everything else set(self._pokes)
            self._pokes.clear()
            return due

    def _collect_redis(self, pubsub) -> set[int]:
        due = self._collect_pokes(0, everything=False)
        deadline = time.monotonic() + POLL_SECONDS / 4
        while time.monotonic() < deadline and not due:
            message = pubsub.get_message(timeout=POLL_SECONDS / 4)
            while message:
                due.add(int(message["channel"].rsplit(b":", 1)[-1]))
                message = pubsub.get_message(timeout=0)
            due |= self._collect_pokes(0, everything=False)
        return due

    def _refresh(self, event_ids: set[int]) -> None:
        db = get_db()
        try:
            for event_id in event_ids:
                self._refresh_event(db, event_id)
        finally:
            release(db)

    def _refresh_event(self, db, event_id: int) -> None:
        with self._cond:
            feed = self._feeds.get(event_id)
            known = feed.last_ts if feed else None
        if feed is None:
            return
        if known is None:
            newest = last_ts(db, event_id) or 0
            with self._cond:
                if feed.last_ts is None:
                    feed.last_ts = feed.covered_from = newest
                    self._cond.notify_all()
            return
        while True:
            payloads = payloads_after(db, event_id, known, limit=BUFFER_SIZE)
            if not payloads or not self._append(feed, known, payloads):
                return
            known = payloads[-1]["ts"]
            if len(payloads) < BUFFER_SIZE:
                return

    def _append(self, feed: _Feed, known: int, payloads: list[dict]) -> bool:
        """Buffer the frames of new samples and wake the clients; False if the feed was reset."""
        with self._cond:
            if feed.last_ts != known:
                return False
            overflow = len(feed.frames) + len(payloads) - BUFFER_SIZE
            if overflow > 0:  # the oldest frames fall out: clients behind them read the database
                times = [ts for ts, _ in feed.frames] + [payload["ts"] for payload in payloads]
                feed.covered_from = times[overflow - 1]
            feed.frames.extend((payload["ts"], sse_frame(payload)) for payload in payloads)
            feed.last_ts = payloads[-1]["ts"]
            self._cond.notify_all()
            return True


hub = LiveHub()


def publish(event_id: int) -> None:
    """Tell every web process that the event has a new committed sample."""
    redis = redis_client.get_redis()
    if redis is not None:
        try:
            redis.publish(channel(event_id), b"1")
        except Exception as err:  # the hubs' periodic database check still delivers it
            log.warning("livepulse: could not publish to Redis (%s)", err.__class__.__name__)
    hub.poke(event_id)
