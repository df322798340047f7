"""Shared test fixtures: an isolated environment, the database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), Redis when TEST_REDIS_URL is set, and an in-process WebTest client
over py4web's WSGI application."""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest

_VAR = tempfile.mkdtemp(prefix="waddlebot-test-")
TEST_ENV = {
    "WADDLEBOT_ENV": "development",
    "WADDLEBOT_VAR_DIR": _VAR,
    "WADDLEBOT_SECRET_KEY": "test-secret-key-for-encryption-0123456789",
    "ADMIN_PASSWORD": "correct horse battery staple",
    "AUTH_SECRET": "test-auth-secret-0123456789-abcdefghijklmnop",
    "ADMIN_API_KEY": "test-admin-api-key",
    "DATABASE_URL": os.environ.get("TEST_DATABASE_URL") or "sqlite://waddlebot.sqlite",
    "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
    "REDIS_KEY_PREFIX": f"waddlebot-test-{uuid.uuid4().hex[:8]}:",
    "PUBLIC_URL": "http://127.0.0.1:8000",
    "LOG_LEVEL": "INFO",
}
# Before any application module reads the environment; the developer's .env is not read.
for _name in [name for name in os.environ if name.startswith(("TWITCH_", "YT_", "REPUTATION_", "CONTEXT_"))]:
    del os.environ[_name]
os.environ.update(TEST_ENV)

from shared import cache, ratelimit, redis_client, tokens  # noqa: E402
from shared.db import get_db, is_postgres, migrate  # noqa: E402
from shared.settings import Settings, reset_settings  # noqa: E402

Settings.model_config["env_file"] = None
BACKEND = "postgres" if os.environ.get("TEST_DATABASE_URL") else "sqlite"

# py4web must import the apps before any test module does: an app package imported by plain Python
# first would register its routes under the wrong app.
from shared.web import load_apps  # noqa: E402

load_apps()


def reset_services() -> None:
    """Forget cached settings and the objects built from them (cache, limiter)."""
    reset_settings()
    cache.reset_caches()
    ratelimit.reset_rate_limiter()
    tokens.forget_app_token()


@pytest.fixture(scope="session")
def wsgi_app():
    migrate()
    return load_apps()


@pytest.fixture(autouse=True)
def clean_state(request):
    """Every test starts with empty tables, caches and rate limits."""
    reset_services()
    yield
    if "wsgi_app" in request.fixturenames or "db" in request.fixturenames:
        db = get_db()
        db.rollback()
        tables = list(db.tables)
        if is_postgres(db):
            db.executesql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                db.executesql(f"DELETE FROM {table}")
        db.commit()
    client = redis_client.get_redis()
    if client is not None:
        keys = list(client.scan_iter(match=TEST_ENV["REDIS_KEY_PREFIX"] + "*", count=1000))
        if keys:
            client.delete(*keys)
    reset_services()


@pytest.fixture
def db(wsgi_app):
    """The shared DAL, tables migrated, emptied after the test."""
    return get_db()


@pytest.fixture
def client(wsgi_app):
    """A WebTest client over the whole system (every app), as an anonymous browser."""
    from webtest import TestApp

    return TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})


@pytest.fixture
def admin_client(client):
    """The same client, logged in through the admin login form."""
    client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"], "next": "/"})
    return client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]}


@pytest.fixture
def configure(monkeypatch):
    """configure(NAME=value, …): change settings for this test (restored afterwards)."""

    def apply(**values: str) -> Settings:
        from shared.settings import get_settings

        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        reset_services()
        return get_settings()

    return apply


@pytest.fixture(scope="session")
def live_server(wsgi_app):
    """The whole system served by a real threaded HTTP server on 127.0.0.1 (for browsers, SSE)."""
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class ThreadingServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, wsgi_app, ThreadingServer, QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page; the test fails if the page broke its own Content-Security-Policy."""
    context = browser.new_context()
    page = context.new_page()
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert violations == []
