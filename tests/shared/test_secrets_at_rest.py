"""Errors write no ticket files, logs hold no database or Redis password, and var/ is private."""

from __future__ import annotations

import io
import logging
import sqlite3
import stat

import apps._default.controllers as default_controllers
from shared.logs import configure_logging
from shared.settings import APPS_FOLDER, _generated_secrets, get_settings, load_settings

PASSWORD = "hunter2-Secret"


def tickets() -> int:
    """Rows of py4web's ticket table (apps/.service), where py4web keeps every error by default."""
    with sqlite3.connect(APPS_FOLDER / ".service" / "service.storage") as connection:
        return connection.execute("SELECT COUNT(*) FROM py4web_error").fetchone()[0]


def failing_health():
    raise RuntimeError(f"could not connect to postgresql://waddle:{PASSWORD}@db.internal/waddle")


def test_an_error_is_logged_redacted_and_writes_no_ticket(client, monkeypatch):
    monkeypatch.setattr(default_controllers, "system_health", failing_health)
    stream, root = io.StringIO(), logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(load_settings(REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:6390/0"), stream)
    before = tickets()
    try:
        for _ in range(3):
            client.get("/health", status=500)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert tickets() == before
    logged = stream.getvalue()
    assert "RuntimeError" in logged and "postgresql://waddle:***@db.internal" in logged
    assert PASSWORD not in logged


def test_the_var_folder_and_generated_secrets_are_private(tmp_path, db):
    var = get_settings().var_dir
    assert stat.S_IMODE(var.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((var / "db").stat().st_mode) & 0o077 == 0
    _generated_secrets(tmp_path / "var", ["ADMIN_PASSWORD"])
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "secrets.json").stat().st_mode) == 0o600
