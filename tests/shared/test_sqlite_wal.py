"""WAL checkpoints run by a thread of their own, never inside a request's commit (SQLite)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from shared import sqlite_wal
from shared.db import is_postgres
from tests.waiting import wait_until


def _write(path, rows: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    for _ in range(rows):
        connection.execute("INSERT INTO t VALUES (hex(randomblob(500)))")
    return connection


def test_the_shared_databases_commits_never_checkpoint(db):
    if is_postgres(db):
        pytest.skip("SQLite only")
    assert db.executesql("PRAGMA wal_autocheckpoint")[0][0] == 0
    assert sqlite_wal._started[str(Path(db._adapter.dbpath).resolve())].path.endswith(".sqlite")


def test_a_checkpoint_copies_every_committed_frame_back(tmp_path):
    path = tmp_path / "w.sqlite"
    writer = _write(path, 50)
    busy, frames, copied = sqlite_wal.Checkpointer(path).checkpoint()
    assert busy == 0 and frames > 0 and copied == frames
    writer.close()


def test_the_thread_checkpoints_what_is_written_later(tmp_path):
    path = tmp_path / "w.sqlite"
    writer = _write(path, 0)
    results = []

    class Recording(sqlite_wal.Checkpointer):
        def checkpoint(self):
            results.append(super().checkpoint())
            return results[-1]

    checkpointer = Recording(path, interval=0.01)
    thread = threading.Thread(target=checkpointer.run, daemon=True)
    thread.start()
    try:
        for _ in range(50):
            writer.execute("INSERT INTO t VALUES (hex(randomblob(500)))")
        # each of the 50 commits appended at least one frame: a checkpoint after them all copied them all
        wait_until(lambda: any(frames >= 50 and copied == frames for _, frames, copied in results))
    finally:
        checkpointer.stop.set()
        thread.join(5)
        writer.close()
    assert not thread.is_alive()
