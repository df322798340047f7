"""The one DAL every app shares, created lazily; migrations owned by the core."""

from __future__ import annotations

import contextlib
import datetime
import threading
from pathlib import Path

import threadsafevariable
from py4web.core import DAL, ICECUBE
from pydal.migrator import InDBMigrator

from shared.schema import INDEXES, define_all
from shared.settings import Settings, get_settings

_db_lock = threading.Lock()


class Database(DAL):
    """py4web's DAL fixture. On SQLite each thread keeps its connection between requests (commit or
    roll back only): reopening it per request costs more than most requests, as every close
    checkpoints the WAL. PostgreSQL keeps py4web's pooled behaviour."""

    def on_request(self, context):
        if self._dbname != "sqlite":
            return super().on_request(context)
        self._adapter.get_connection()
        threadsafevariable.ThreadSafeVariable.restore(ICECUBE)

    def on_error(self, context):
        if self._dbname != "sqlite":
            return super().on_error(context)
        self.rollback()

    def on_success(self, context):
        if self._dbname != "sqlite":
            return super().on_success(context)
        self.commit()


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


def _sqlite_pragmas(adapter) -> None:
    if adapter.dbengine == "sqlite":
        adapter.execute("PRAGMA journal_mode=WAL;")
        adapter.execute("PRAGMA synchronous=NORMAL;")
        adapter.execute("PRAGMA busy_timeout=30000;")


def _folder(settings: Settings) -> Path:
    folder = settings.var_dir / "db"
    folder.mkdir(parents=True, exist_ok=True)
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
    return db


def migrate(settings: Settings | None = None) -> list[str]:
    """Create/alter every table and create every index, idempotently. Returns the table names."""
    db = open_db(settings or get_settings(), migrate=True)
    try:
        for index in INDEXES:
            db.executesql(index.sql())
        db.commit()
        return list(db.tables)
    finally:
        db.close()


def get_db() -> Database:
    """The shared DAL (a py4web fixture; apps never migrate)."""
    global _db
    with _db_lock:
        if _db is None:
            _db = open_db(get_settings(), migrate=False)
        return _db


def reset_db() -> None:
    """Close and forget the shared DAL (tests and settings changes)."""
    global _db
    with _db_lock:
        if _db is not None:
            with contextlib.suppress(Exception):
                _db.close()
        _db = None


@contextlib.contextmanager
def transaction(db: Database | None = None):
    """Commit on success, roll back on error: for code outside a request (workers, CLI)."""
    db = db or get_db()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
