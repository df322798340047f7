"""The Server-Sent Events stream of one event: `retry:`, then the samples after a point (the
window's start, or the Last-Event-ID's sample), then each new sample as it arrives, with a
comment heartbeat whenever the stream is idle. No database connection is held while waiting:
new samples come from the process hub (live.py); catching up reads short chunks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from apps.livepulse.live import hub, release
from apps.livepulse.samples import CHUNK, payloads_after, sse_frame
from shared.db import get_db
from shared.settings import get_settings

RETRY_MS = 3000
HEARTBEAT = b": heartbeat\n\n"
# A stream ends after this long and the browser reconnects (after RETRY_MS, with Last-Event-ID):
# a WSGI server may not notice a client that left, so its stream would otherwise never end.
MAX_STREAM_SECONDS = 300.0
# Catching-up readers share this many connections: 500 clients connecting at once must not
# open 500 database connections.
_db_slots = threading.BoundedSemaphore(max(1, get_settings().db_pool_size))


@contextmanager
def database():
    """The shared DAL for a few short queries, within the SSE connection slots; the connection
    goes back to the pool afterwards (also when the block raises, e.g. an HTTP error)."""
    with _db_slots:
        db = get_db()
        try:
            yield db
        finally:
            release(db)


def _read(event_id: int, after_ts: int) -> list[tuple[int, bytes]]:
    with database() as db:
        payloads = payloads_after(db, event_id, after_ts, limit=CHUNK)
    return [(payload["ts"], sse_frame(payload)) for payload in payloads]


def _event_exists(event_id: int) -> bool:
    with database() as db:
        return bool(db.executesql(f"SELECT 1 FROM lp_event WHERE id = {int(event_id)}"))


class _Cursor:
    """Where one client is: the ts of the last sample it was sent."""

    def __init__(self, event_id: int, after_ts: int):
        self.event_id, self.after_ts = event_id, after_ts

    def catch_up(self) -> Iterator[bytes]:
        """The stored samples after the cursor, one chunk (one short query) at a time."""
        while True:
            frames = _read(self.event_id, self.after_ts)
            if not frames:
                return
            self.after_ts = frames[-1][0]
            yield b"".join(frame for _, frame in frames)
            if len(frames) < CHUNK:
                return

    def take(self, frames: list[tuple[int, bytes]]) -> bytes:
        self.after_ts = frames[-1][0]
        return b"".join(frame for _, frame in frames)


def event_stream(event_id: int, after_ts: int, heartbeat: float) -> Iterator[bytes]:
    """The SSE body: every sample with ts > after_ts, then the new ones, for MAX_STREAM_SECONDS."""
    yield f"retry: {RETRY_MS}\n\n".encode()  # first, so the headers go out at once
    cursor = _Cursor(event_id, after_ts)
    ends = time.monotonic() + MAX_STREAM_SECONDS
    with hub.listening(event_id):
        yield from cursor.catch_up()
        idle_since = time.monotonic()
        while time.monotonic() < ends:
            timeout = min(idle_since + heartbeat, ends) - time.monotonic()
            frames = hub.wait(event_id, cursor.after_ts, max(0.0, timeout))
            if frames is None:  # behind the hub's buffer
                caught_up = False
                for data in cursor.catch_up():
                    caught_up = True
                    yield data
                if not caught_up:  # the hub saw samples that are gone: was the event deleted?
                    if not _event_exists(event_id):
                        return
                    time.sleep(1.0)
                idle_since = time.monotonic()
            elif frames:
                yield cursor.take(frames)
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= heartbeat:
                yield HEARTBEAT
                idle_since = time.monotonic()
