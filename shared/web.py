"""The web process: py4web loads every app folder; we add metrics and serve it with Granian."""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.client import responses as reasons
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from urllib.parse import quote

import py4web
import pydal.validators
from py4web.core import error_logger, wsgi

from shared.adminauth import COOKIE, check_api_key, is_valid_session
from shared.guard import bounded_bodies, well_formed
from shared.headers import same_origin_only, security_headers
from shared.metrics import LANE_ROUTE, MULTIPROCESS_DIR, metrics_middleware
from shared.settings import APPS_FOLDER, Settings, get_settings

log = logging.getLogger(__name__)
_loaded: dict[str, object] = {}


@dataclass(frozen=True)
class LaneAnswer:
    """A complete answer given before py4web routes the request; `route` is its route rule (metrics)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    route: str


#: path prefix → handler(environ) answering some requests under it before py4web does (fast_lane)
_lanes: dict[str, Callable[[dict], LaneAnswer | None]] = {}


def fast_lane(prefix: str):
    """Register handler(environ) → LaneAnswer | None for requests whose path starts with `prefix`.

    A lane answers what it can settle cheaply (helix_proxy: cache hits) without py4web's routing
    and request objects; None hands the request to py4web unchanged. Every Python thread of a web
    process shares one GIL, so under load a request's latency grows with the Python time of every
    other request: a lane cuts that time where most requests go."""

    def register(handler: Callable[[dict], LaneAnswer | None]):
        _lanes[prefix] = handler
        return handler

    return register


def _with_lanes(app):
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix, handler in _lanes.items():
            answer = handler(environ) if path.startswith(prefix) else None
            if answer is not None:
                environ[LANE_ROUTE] = answer.route
                start_response(f"{answer.status} {reasons.get(answer.status, '')}", answer.headers)
                return [answer.body]
        body = app(environ, start_response)
        # ombott keeps a header view of the environ inside the environ: a reference cycle per
        # request that only the garbage collector would free, pausing a request now and then
        environ.pop("ombott.request.headers", None)
        return body

    return wrapped


def _client_address(environ: dict) -> str:
    from shared.fixtures import client_address  # the fixtures open the database: not at import

    return client_address(environ)


class LoggedErrors:
    """py4web's error logger: the traceback goes to our (redacting) log only, under a short id that
    the error page shows; nothing is written to disk."""

    def log(self, app_name: str, snapshot: dict) -> str:
        ticket = uuid.uuid4().hex[:12]
        log.error("error %s in %s (traceback logged above by py4web)", ticket, app_name)
        return ticket


def module_app_names() -> list[str]:
    """The app folders that are WaddleBot modules (they carry a manifest)."""
    return sorted(path.name for path in APPS_FOLDER.iterdir() if (path / "manifest.json").exists())


def load_apps(app_names: list[str] | None = None, quiet: bool = False):
    """Import the apps through py4web (once per process) and return the WSGI application.

    A failing app is recorded by py4web (registry.import_errors) and the others still load.
    `quiet` hides py4web's "[X] loaded …" lines (commands whose output is the point)."""
    names = ",".join(app_names or module_app_names() + _extra_apps())
    if names not in _loaded:
        _loaded.clear()
        os.environ["PY4WEB_APP_NAMES"] = names
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            app = wsgi(apps_folder=str(APPS_FOLDER), yes=True, logging_level=logging.WARNING, app_names=names)
        # py4web stores a ticket per error (its traceback and every frame's variables, settings and
        # their passwords included) in a database that grows with every 500; we log it instead
        error_logger.database_logger = LoggedErrors()
        guarded = well_formed(same_origin_only(bounded_bodies(_with_lanes(app), _client_address)))
        _loaded[names] = metrics_middleware(security_headers(guarded))
    return _loaded[names]


def dashboard_enabled(settings: Settings) -> bool:
    """py4web's _dashboard reads and writes app files: only when DASHBOARD_ENABLED, never in production."""
    return settings.dashboard_enabled and not settings.is_production


def _extra_apps() -> list[str]:
    settings = get_settings()
    return ["_dashboard"] if (APPS_FOLDER / "_dashboard").exists() and dashboard_enabled(settings) else []


def _valid_session(session: str | None) -> bool:
    """is_valid_session before py4web's fixtures: its read transaction ends here."""
    from shared.db import get_db

    try:
        return is_valid_session(session)
    finally:
        get_db().rollback()


@fast_lane("/_dashboard")
def dashboard_gate(environ: dict) -> LaneAnswer | None:
    """The dashboard sits behind the admin login (and its attempt limit): anyone else is sent to
    /login (a page) or answered 401, before the dashboard's own password form is reachable."""
    if not dashboard_enabled(get_settings()):
        return None
    cookies = SimpleCookie()
    with contextlib.suppress(CookieError):
        cookies.load(environ.get("HTTP_COOKIE", ""))
    session = cookies[COOKIE].value if COOKIE in cookies else None
    if check_api_key(environ.get("HTTP_X_ADMIN_KEY")) or _valid_session(session):
        return None
    if environ.get("REQUEST_METHOD") == "GET":
        target = quote(environ.get("PATH_INFO", "/_dashboard"), safe="")
        return LaneAnswer(303, [("Location", f"/login?next={target}"), ("Content-Length", "0")], b"", "/_dashboard")
    body = b'{"error": "Unauthorized", "status": 401, "message": "admin authentication required: log in at /login"}'
    return LaneAnswer(401, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body,
                      "/_dashboard")


def install_dashboard(settings: Settings) -> None:
    """DASHBOARD_ENABLED in development: py4web's _dashboard, behind the admin login, then its
    own password (ADMIN_PASSWORD)."""
    target = APPS_FOLDER / "_dashboard"
    if not target.exists():
        archive = Path(py4web.__file__).parent / "assets" / "py4web.app._dashboard.zip"
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(target)
    password_file = settings.var_dir / "dashboard_password.txt"
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.write_text(str(pydal.validators.CRYPT()(settings.admin_password)[0]))
    os.environ["PY4WEB_PASSWORD_FILE"] = str(password_file)
    os.environ["PY4WEB_DASHBOARD_MODE"] = "full"


def application():
    """The WSGI application of a Granian worker process (serve's factory target)."""
    return load_apps()


def serve(host: str, port: int, settings: Settings | None = None) -> None:
    """Serve every app with Granian until SIGTERM/SIGINT.

    Granian parses HTTP and keeps connections in Rust, off the GIL, so Python time goes to the
    apps alone. Each worker process (WEB_WORKERS, default 1) starts its WSGI threads as requests
    need them, up to WEB_THREADS (an SSE stream holds one). Threads of one process contend for
    the GIL, so a second process is what puts a second core to work; the processes then share
    their state through Redis (settings refuse WEB_WORKERS > 1 without REDIS_URL) and their
    metrics through files (shared.metrics). Workers are started fresh (spawn), not forked, so
    that each one loads the apps with multiprocess metrics. On a stop signal, requests still
    running get 5 s before a worker is killed."""
    from granian.constants import Interfaces
    from granian.server import Server

    settings = settings or get_settings()
    if dashboard_enabled(settings):
        install_dashboard(settings)
    log.info("web server on http://%s:%s (%d process%s)", host, port, settings.web_workers,
             "es" if settings.web_workers > 1 else "")
    with _shared_metrics(settings.web_workers > 1):
        Server("shared.web:application", address=host, port=port, interface=Interfaces.WSGI, factory=True,
               workers=settings.web_workers, blocking_threads=settings.web_threads, workers_kill_timeout=5,
               log_level="warning").serve()


@contextlib.contextmanager
def _shared_metrics(enabled: bool):
    """A fresh PROMETHEUS_MULTIPROC_DIR for the worker processes (removed afterwards)."""
    if not enabled:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="waddlebot-metrics-") as folder:
        os.environ[MULTIPROCESS_DIR] = folder
        multiprocessing.set_start_method("spawn", force=True)
        try:
            yield
        finally:
            os.environ.pop(MULTIPROCESS_DIR, None)
