"""Database faults: a broken connection never leaves a caller waiting forever, is dropped from the
pool, and the worker gets a working connection back (real PostgreSQL: pg_terminate_backend)."""

from __future__ import annotations

import os
import sqlite3
import threading

import psycopg2
import pytest

from shared import outbox
from shared.db import GroupCommit, get_db, rollback, run_sql
from shared.workers import Supervisor


class BrokenConnectionDb:
    """A DAL whose connection died: commit and rollback raise, as psycopg2's do after the server
    closed the connection. Counts how often the connection was dropped."""

    def __init__(self):
        self.dropped = 0

    def commit(self):
        raise sqlite3.OperationalError("server closed the connection unexpectedly")

    def rollback(self):
        raise sqlite3.InterfaceError("connection already closed")


def test_every_job_of_a_batch_finishes_when_the_rollback_raises(monkeypatch):
    """Old code: the rollback's error escaped `_run`, the batch's other jobs were never finished
    and their callers looped in `submit` forever."""
    monkeypatch.setattr("shared.db.drop_connection", lambda db: setattr(db, "dropped", db.dropped + 1))
    db, taken, release = BrokenConnectionDb(), threading.Event(), threading.Event()

    def write(own, jobs):
        if jobs == ["first"]:  # hold the writer until the others are queued: they form one batch
            taken.set()
            release.wait(10)
        return list(jobs)

    writer = GroupCommit(write)
    outcome: dict[str, object] = {}

    def submit(job: str) -> None:
        try:
            outcome[job] = writer.submit(db, job)
        except Exception as err:
            outcome[job] = err

    first = threading.Thread(target=submit, args=("first",), daemon=True)
    first.start()
    assert taken.wait(10)
    others = [threading.Thread(target=submit, args=(f"job-{n}",), daemon=True) for n in range(4)]
    for thread in others:
        thread.start()
    while len(writer._queue) < 4:
        threading.Event().wait(0.01)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert not any(thread.is_alive() for thread in [first, *others]), "a caller is still waiting"
    assert sorted(outcome) == ["first", "job-0", "job-1", "job-2", "job-3"]
    assert all(isinstance(error, sqlite3.OperationalError) for error in outcome.values())
    assert db.dropped == 2  # the first job's batch, then the batch of the four others


def test_a_failed_rollback_drops_the_connection_from_this_thread(db, monkeypatch):
    db.executesql("SELECT 1")
    broken = db._adapter.connection
    monkeypatch.setattr(db._adapter, "rollback", lambda: (_ for _ in ()).throw(sqlite3.InterfaceError("closed")))
    assert rollback(db) is False
    monkeypatch.undo()
    assert db._adapter.connection is not broken
    assert db.executesql("SELECT 1") == [(1,)]


def _backend_pid(db) -> int:
    return run_sql(db, "SELECT pg_backend_pid()")[0][0]


def _terminate(pid: int) -> None:
    killer = psycopg2.connect(os.environ["TEST_DATABASE_URL"])
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
    killer.close()


@pytest.fixture
def postgres(db):
    if db._dbname != "postgres":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    return db


def test_the_heartbeat_recovers_after_its_backend_is_terminated(postgres):
    supervisor = Supervisor([])
    supervisor.beat()
    _terminate(_backend_pid(postgres))
    with pytest.raises(psycopg2.Error):
        supervisor.beat()
    supervisor.beat()  # old code: InterfaceError "connection already closed" at every beat, forever
    assert postgres(postgres.worker_heartbeat.worker_id == supervisor.worker_id).count() == 1


def test_the_outbox_dispatcher_recovers_after_its_backend_is_terminated(postgres, configure):
    configure(OUTBOX_CONCURRENCY="1")
    dispatcher = outbox.Dispatcher(get_db())
    try:
        assert dispatcher.run_once() == 0
        _terminate(_backend_pid(postgres))
        stop = threading.Event()
        with pytest.raises(psycopg2.Error):
            dispatcher.run(stop)  # the service crashes; the supervisor runs it again on this thread
        dispatcher.pool = outbox.ThreadPoolExecutor(1)
        assert dispatcher.run_once() == 0
    finally:
        dispatcher.pool.shutdown()
