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

from shared import error_pages
from shared.accesslog import access_log
from shared.adminauth import COOKIE, check_api_key, is_valid_session
from shared.aliases import AliasTable, check_conflicts
from shared.guard import bounded_bodies, well_formed
from shared.headers import same_origin_only, security_headers
from shared.logs import configure_logging
from shared.metrics import LANE_ROUTE, MULTIPROCESS_DIR, metrics_middleware
from shared.registry import discover, import_errors
from shared.settings import APPS_FOLDER, Settings, get_settings

log = logging.getLogger(__name__)
_loaded: dict[str, object] = {}
ORIGINAL_PATH = "waddlebot.original_path"  # environ key: the path the client asked for, when an alias rewrote it
SERVED_APPS = "WADDLEBOT_SERVED_APPS"  # environment: the apps a server's worker processes load (serve's `apps`)


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


def _with_aliases(app, table: AliasTable):
    """Rewrite an old path (a manifest's aliases) to its route before the lanes and py4web see it."""
    if not table:
        return app

    def wrapped(environ, start_response):
        target = table.rewrite(environ.get("PATH_INFO", ""))
        if target is not None:
            environ[ORIGINAL_PATH] = environ["PATH_INFO"]
            environ["PATH_INFO"] = target
        return app(environ, start_response)

    return wrapped


def alias_table(app_names: list[str]) -> AliasTable:
    """The aliases of the apps served; their standalone aliases too when one module is served alone."""
    manifests = [manifest for manifest in discover() if manifest.name in app_names]
    alone = len(manifests) == 1
    declared = {manifest.name: manifest.aliases + (manifest.standalone_aliases if alone else ())
                for manifest in manifests}
    check_conflicts(declared, module_app_names())
    return AliasTable(alias for aliases in declared.values() for alias in aliases)


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
    served = os.environ.get(SERVED_APPS)
    names = ",".join(app_names or (served.split(",") if served else module_app_names() + _extra_apps()))
    error_pages.install()
    if names not in _loaded:
        _loaded.clear()
        os.environ["PY4WEB_APP_NAMES"] = names
        root = logging.getLogger()
        level = root.level  # py4web sets the root logger's level; LOG_LEVEL (configure_logging) wins
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            app = wsgi(apps_folder=str(APPS_FOLDER), yes=True, logging_level=logging.WARNING, app_names=names)
        root.setLevel(level)
        # py4web stores a ticket per error (its traceback and every frame's variables, settings and
        # their passwords included) in a database that grows with every 500; we log it instead
        error_logger.database_logger = LoggedErrors()
        guarded = well_formed(same_origin_only(bounded_bodies(_with_lanes(app), _client_address)))
        routed = _with_aliases(guarded, alias_table(names.split(",")))
        _loaded[names] = access_log(metrics_middleware(security_headers(routed)))
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
    """The WSGI application of a Granian worker process (serve's factory target).

    A worker process starts fresh (spawned), so it sets up its own logging from the settings. The
    apps load quietly (the worker process loads them too) and one log line says which."""
    configure_logging(get_settings())
    app = load_apps(quiet=True)
    failed = import_errors()
    log.info("apps loaded: %s%s", ", ".join(name for name in os.environ["PY4WEB_APP_NAMES"].split(",")
                                             if name not in failed),
             "".join(f"; {name} FAILED: {error}" for name, error in failed.items()))
    return app


class ThreadCountNote(logging.Filter):
    """Drops Granian's start-up warning about WEB_THREADS being high for the CPU count: the threads
    start only as requests need them, and each open SSE stream holds one (WEB_THREADS says so)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads, which seems quite high" not in record.getMessage()


GRANIAN_LOGGING = {
    "filters": {"thread_count": {"()": ThreadCountNote}},
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False, "filters": ["thread_count"]},
        "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def serve(host: str, port: int, settings: Settings | None = None, apps: list[str] | None = None) -> None:
    """Serve every app (or only `apps`) with Granian until SIGTERM/SIGINT.

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
    if apps:
        os.environ[SERVED_APPS] = ",".join(apps)  # read by the worker processes' load_apps
    elif dashboard_enabled(settings):
        install_dashboard(settings)
    log.info("web server on http://%s:%s (%d process%s)%s", host, port, settings.web_workers,
             "es" if settings.web_workers > 1 else "", f" serving {', '.join(apps)}" if apps else "")
    with _shared_metrics(settings.web_workers > 1):
        Server("shared.web:application", address=host, port=port, interface=Interfaces.WSGI, factory=True,
               workers=settings.web_workers, blocking_threads=settings.web_threads, workers_kill_timeout=5,
               log_level="warning", log_dictconfig=GRANIAN_LOGGING).serve()


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
