"""The one DAL every app shares, created lazily; migrations owned by the core."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import select
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg2
import threadsafevariable
from py4web.core import DAL, HTTP, ICECUBE
from pydal.connection import THREAD_LOCAL
from pydal.migrator import InDBMigrator

from shared.schema import all_indexes, define_all
from shared.settings import Settings, get_settings
from shared.sqlite_wal import start_checkpointer

log = logging.getLogger(__name__)
_db_lock = threading.Lock()
CONNECTION_WAIT_SECONDS = 30.0
RETRY_AFTER_SECONDS = 5  # what a 503 for a database failure asks the client to wait
#: what the drivers raise when the database fails (connection lost, server down, lock timeout…)
DATABASE_ERRORS = (psycopg2.Error, sqlite3.Error)


class Database(DAL):
    """py4web's DAL fixture. On SQLite each thread keeps its connection between requests (commit or
    roll back only): reopening it per request costs more than most requests, as every close
    checkpoints the WAL. PostgreSQL keeps py4web's pooled behaviour with two changes: at most
    DB_POOL_SIZE requests hold a connection at a time (the others wait for one, instead of
    opening and closing a connection each, which under load costs PostgreSQL more than the
    queries), and the connection taken from the pool is tested outside pydal's global pool lock
    (see _check_alive)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        pool_size = kwargs.get("pool_size") or 0
        self._connection_slots = threading.BoundedSemaphore(pool_size) if pool_size else None
        self._holding = threading.local()

    def on_request(self, context):
        if self._dbname != "sqlite":
            if self._connection_slots is not None and not getattr(self._holding, "slot", False):
                if not self._connection_slots.acquire(timeout=CONNECTION_WAIT_SECONDS):
                    raise HTTP(503, "every database connection is busy; try again")
                self._holding.slot = True
            try:
                super().on_request(context)
                self._check_alive()
            except DATABASE_ERRORS as err:
                self._release_slot()
                drop_connection(self)
                log.warning("database unavailable: %s", err.__class__.__name__)
                raise database_unavailable() from None
            except BaseException:
                self._release_slot()
                raise
            return
        self._adapter.get_connection()
        threadsafevariable.ThreadSafeVariable.restore(ICECUBE)

    def _check_alive(self) -> None:
        """Make sure the pooled connection still works; a dead one (the server restarted, the
        backend was terminated) is dropped for another. An idle connection has nothing to read:
        when its socket is readable, the server has closed it or sent it a notice, and only then
        is it tested with SELECT 1 — a round trip per request costs PostgreSQL more than the
        webhook's own queries. (pydal would test every connection while holding the lock every
        pool checkout takes, so concurrent requests queued behind each other's round trips;
        open_db turns that off.)"""
        adapter = self._adapter
        if not _has_input(adapter.connection):
            return
        for _ in range(adapter.pool_size + 1):
            try:
                adapter.test_connection()
                return
            except Exception:
                drop_connection(self)
                adapter.get_connection()
        adapter.test_connection()

    def on_error(self, context):
        if self._dbname != "sqlite":
            try:
                return super().on_error(context)
            finally:
                self._release_slot()
        self.rollback()

    def on_success(self, context):
        if self._dbname != "sqlite":
            try:
                return super().on_success(context)
            finally:
                self._release_slot()
        self.commit()

    def _release_slot(self) -> None:
        if getattr(self._holding, "slot", False):
            self._holding.slot = False
            self._connection_slots.release()


def database_unavailable(message: str = "the database is unavailable; try again shortly") -> HTTP:
    """The JSON 503 (with Retry-After) a request gets when the database fails: not our bug, retry."""
    body = {"error": "Service Unavailable", "status": 503, "message": message}
    return HTTP(503, body=body, headers={"Content-Type": "application/json",
                                         "Retry-After": str(RETRY_AFTER_SECONDS)})


def drop_connection(db: DAL) -> None:
    """Close this thread's connection for good (never back to the pool); the next use opens another."""
    adapter = db._adapter
    connection = getattr(THREAD_LOCAL, adapter._connection_uname_, None)
    if connection is None:
        return
    with contextlib.suppress(Exception):
        connection.close()
    with contextlib.suppress(Exception):
        adapter.cursor.close()
    adapter.set_connection(None)


def rollback(db: DAL) -> bool:
    """Roll back this thread's transaction. When the rollback itself fails, the connection is broken
    (the server closed it, its backend was terminated): it is dropped, so the next use of the
    DAL on this thread opens a fresh one instead of failing forever. False when it was dropped."""
    try:
        db.rollback()
        return True
    except Exception as err:
        log.warning("dropped a broken database connection (%s: %s)", err.__class__.__name__, err)
        drop_connection(db)
        return False


def _has_input(connection) -> bool:
    """Whether the server sent anything to this (idle) connection: a zero-timeout poll, no round trip."""
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


_db: Database | None = None


def utcnow() -> datetime.datetime:
    """Naive UTC now: every datetime column stores UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


def normalize_uri(uri: str) -> str:
    """pydal speaks postgres://; accept postgresql:// (and SQLAlchemy's +psycopg2) too."""
    for prefix in ("postgresql+psycopg2://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgres://" + uri[len(prefix):]
    return uri


def is_postgres(db: DAL) -> bool:
    return db._dbname == "postgres"


def placeholder(db: DAL) -> str:
    """The driver's parameter mark, for the hot paths' plain SQL (no pydal per-query overhead)."""
    return "%s" if is_postgres(db) else "?"


def run_sql(db: DAL, statement: str, params: tuple = ()) -> list[tuple]:
    """Plain SQL on this thread's connection, straight on the driver's cursor: for the hot paths,
    where pydal's executesql (execution handlers, timings) costs more than SQLite itself."""
    adapter = db._adapter
    adapter.get_connection()
    cursor = adapter.cursor
    cursor.execute(statement, params)
    return cursor.fetchall() if cursor.description is not None else []


def insert_rows(db: DAL, table: str, rows: list[dict], key: str | None = None,
                skip_existing: str | None = None) -> dict:
    """INSERT rows (all with the same columns) in one plain-SQL statement: a tenth of pydal's
    Table.insert per row, which represents every field of the table. Values are stored as pydal
    reads them back (sql_value). `skip_existing` names a uniquely indexed column: a row whose
    value is already stored is left out (ON CONFLICT DO NOTHING). With `key`, returns
    {row[key]: new id} of the rows inserted (RETURNING's order is not guaranteed, so rows are
    matched by that column, which must be unique among them)."""
    if not rows:
        return {}
    statement, params = insert_rows_sql(db, table, rows, skip_existing)
    if key is None:
        run_sql(db, statement, params)
        return {}
    return dict((value, row_id) for row_id, value in run_sql(db, f"{statement} RETURNING id, {key}", params))


def insert_rows_sql(db: DAL, table: str, rows: list[dict], skip_existing: str | None = None) -> tuple[str, tuple]:
    """The statement and parameters of insert_rows (rows not empty)."""
    rows = fit_to_columns(db, table, rows)
    columns = list(rows[0])
    marks = f"({', '.join([placeholder(db)] * len(columns))})"
    params = tuple(sql_value(row[column]) for row in rows for column in columns)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * len(rows))}"
    if skip_existing is not None:
        statement += f" ON CONFLICT ({skip_existing}) DO NOTHING"
    return statement, params


def fit_to_columns(db: DAL, table: str, rows: list[dict]) -> list[dict]:
    """The rows with each string cut to its column's length: the same on every engine (PostgreSQL
    would refuse the whole statement, SQLite would store it whole)."""
    lengths = {column: db[table][column].length for column in rows[0] if db[table][column].type == "string"} \
        if rows else {}
    return [{column: value[:lengths[column]] if column in lengths and isinstance(value, str) else value
             for column, value in row.items()} for row in rows]


def as_text(value: object) -> str | None:
    """An id as the string columns store it (Twitch sends some as numbers); None stays None."""
    return None if value is None else str(value)


def sql_value(value: object) -> object:
    """A value as pydal stores it: datetimes as 'YYYY-MM-DD HH:MM:SS', json columns as JSON text."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(" ", "seconds")
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def _sqlite_pragmas(adapter) -> None:
    if adapter.dbengine == "sqlite":
        adapter.execute("PRAGMA journal_mode=WAL;")
        adapter.execute("PRAGMA synchronous=NORMAL;")
        adapter.execute("PRAGMA busy_timeout=30000;")
        adapter.execute("PRAGMA wal_autocheckpoint=0;")  # a thread of its own checkpoints (shared.sqlite_wal)


def _folder(settings: Settings) -> Path:
    """var/db, and var/ itself, readable by this user only: the SQLite file and secrets.json are there."""
    folder = settings.var_dir / "db"
    folder.mkdir(parents=True, exist_ok=True)
    for private in (settings.var_dir, folder):
        private.chmod(0o700)
    return folder


def open_db(settings: Settings, migrate: bool) -> Database:
    """A DAL with every table defined; migrate=True only for `waddlebot migrate`.

    Migration metadata lives in the database itself (pydal's InDBMigrator), so a fresh var/ or
    another container never tries to create tables that already exist."""
    uri = normalize_uri(settings.database_url)
    kwargs = {"driver_args": {"timeout": 30}} if uri.startswith("sqlite") else {}
    db = Database(uri, folder=str(_folder(settings)), pool_size=settings.db_pool_size, migrate=migrate,
             migrate_enabled=migrate, after_connection=_sqlite_pragmas, lazy_tables=False,
             adapter_args={"migrator": InDBMigrator}, table_hash="waddlebot", **kwargs)
    define_all(db)
    db._adapter.check_active_connection = False  # Database._check_alive tests, outside the pool lock
    return db


def migrate(settings: Settings | None = None) -> list[str]:
    """Create/alter every table and create every index, idempotently. Returns the table names."""
    db = open_db(settings or get_settings(), migrate=True)
    try:
        for index in all_indexes():
            db.executesql(index.sql())
        db.commit()
        return list(db.tables)
    finally:
        db.close()


def missing_tables(db: DAL) -> list[str]:
    """The defined tables the database does not have yet (all of them before `waddlebot migrate`)."""
    if is_postgres(db):
        rows = db.executesql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    else:
        rows = db.executesql("SELECT name FROM sqlite_master WHERE type = 'table'")
    db.commit()
    existing = {row[0].lower() for row in rows}
    return [name for name in db.tables if name.lower() not in existing]


def get_db() -> Database:
    """The shared DAL (a py4web fixture; apps never migrate)."""
    global _db
    with _db_lock:
        if _db is None:
            _db = open_db(get_settings(), migrate=False)
            if _db._dbname == "sqlite":
                start_checkpointer(_db._adapter.dbpath)
        return _db


def reset_db() -> None:
    """Close and forget the shared DAL (tests and settings changes)."""
    global _db
    with _db_lock:
        if _db is not None:
            with contextlib.suppress(Exception):
                _db.close()
        _db = None


class GroupCommit:
    """Concurrent requests' writes of one kind in one transaction and one commit (group commit).

    Each caller queues its job; the first to find the writer free takes every job queued so far,
    runs `write(db, jobs)` (one result per job) and commits; the others find theirs done when
    they get the writer. Under load a commit serves many requests and the statements take many
    rows each; alone, a request writes at once. On SQLite the writer also keeps this process's
    threads from meeting SQLite's busy handler, which sleeps up to 100 ms between retries.

    If the shared transaction fails, each job is retried alone, so that one bad job fails only
    its own caller; if the connection broke (the rollback fails too), it is dropped and every
    job fails. Every job taken is finished, whatever happens: its caller waits for nothing else."""

    MAX_JOBS = 200

    def __init__(self, write: Callable[[DAL, list], list]):
        self._write = write
        self._writer = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Job] = []

    def submit(self, db: DAL, payload: object) -> object:
        job = _Job(payload)
        with self._queue_lock:
            self._queue.append(job)
        while not job.done:
            with self._writer:
                if not job.done:
                    with self._queue_lock:
                        jobs, self._queue = self._queue[:self.MAX_JOBS], self._queue[self.MAX_JOBS:]
                    try:
                        self._run(db, jobs)
                    finally:
                        for taken in jobs:
                            if not taken.done:
                                taken.finish(error=RuntimeError("the group commit was interrupted"))
        if job.error is not None:
            raise job.error
        return job.result

    def _run(self, db: DAL, jobs: list[_Job]) -> None:
        try:
            results = self._write(db, [job.payload for job in jobs])
            db.commit()
        except Exception as err:
            if not rollback(db) or len(jobs) == 1:
                for job in jobs:
                    job.finish(error=err)
                return
            for job in jobs:
                self._run(db, [job])
            return
        for job, result in zip(jobs, results, strict=True):
            job.finish(result=result)


class _Job:
    __slots__ = ("payload", "result", "error", "done")

    def __init__(self, payload: object):
        self.payload, self.result, self.error, self.done = payload, None, None, False

    def finish(self, result: object = None, error: Exception | None = None) -> None:
        self.result, self.error, self.done = result, error, True


@contextlib.contextmanager
def transaction(db: Database | None = None):
    """Commit on success, roll back on error: for code outside a request (workers, CLI)."""
    db = db or get_db()
    try:
        yield db
        db.commit()
    except BaseException:
        rollback(db)
        raise
