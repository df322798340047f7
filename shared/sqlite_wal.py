"""SQLite WAL checkpoints off the request path.

By default SQLite checkpoints inside a commit once the WAL holds 1,000 pages: the committing
thread copies the pages back into the database and syncs it. Our writes go through one group
commit at a time, so every request queued behind that commit waited for the checkpoint. With a
large database it got worse: each event's inserts land on random pages of the unique and
per-user indexes, a commit dirties many distinct pages, the WAL fills faster and checkpoints
copy more (ingest lost about 22 % with a million stored events). The shared DAL's connections
therefore never checkpoint (`PRAGMA wal_autocheckpoint=0`, see shared.db) and a daemon thread of
each process runs a passive checkpoint every 0.25 s on its own connection: it never blocks a
reader or a writer, and the sqlite3 module releases the GIL while it runs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 0.25  # at 2,000 commits/s a longer wait lets the WAL, and every page lookup in it, grow
_started: dict[str, Checkpointer] = {}
_lock = threading.Lock()


class Checkpointer:
    """Passive WAL checkpoints of one database file, on a connection of its own."""

    def __init__(self, path: Path | str, interval: float = INTERVAL_SECONDS):
        self.path, self.interval = str(path), interval
        self.stop = threading.Event()
        self._connection: sqlite3.Connection | None = None

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, frames in the WAL, frames checkpointed), as SQLite reports."""
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._connection.execute("PRAGMA busy_timeout=30000")
        return tuple(self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.checkpoint()
            except sqlite3.Error:  # the next round tries again; a commit never waits on this
                log.warning("SQLite WAL checkpoint of %s failed", self.path, exc_info=True)


def start_checkpointer(path: Path | str) -> Checkpointer:
    """The process's checkpointer thread of `path`, started on first call."""
    key = str(Path(path).resolve())
    with _lock:
        if key not in _started:
            checkpointer = Checkpointer(key, INTERVAL_SECONDS)
            threading.Thread(target=checkpointer.run, name="sqlite-checkpoint", daemon=True).start()
            _started[key] = checkpointer
        return _started[key]
