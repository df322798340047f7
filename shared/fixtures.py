"""The py4web fixtures every app uses: the database, the session, admin auth, JSON errors, and the
one page shell (Page) that every app's templates extend."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from py4web import request
from py4web.core import HTTP, Fixture, Session, Template, redirect

from shared import error_pages
from shared.adminauth import COOKIE, check_api_key, is_valid_session
from shared.db import get_db
from shared.guard import HeldStream, StreamRefused, held_stream
from shared.registry import discover
from shared.settings import get_settings

STREAM_RETRY_AFTER_S = 10
db = get_db()
session = Session(secret=get_settings().auth_secret, expiration=3600, name="waddlebot_session")


def json_error(status: int, message: str, headers: dict[str, str] | None = None, **extra) -> HTTP:
    """An HTTP error with a JSON body {"error", "status", "message"} that says what to fix; a browser
    navigating to the URL (Accept: text/html) gets the same message on the branded error page."""
    reason = http.client.responses.get(status, "Error")
    if error_pages.wants_page():
        return HTTP(status, body=error_pages.page(status, reason, message),
                    headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})})
    body = {"error": reason, "status": status, "message": message, **extra}
    return HTTP(status, body=body, headers={"Content-Type": "application/json", **(headers or {})})


def live_stream(body: Iterator[bytes]) -> HeldStream:
    """An SSE body within the live-stream caps (in all and per client); 503 + Retry-After when full."""
    try:
        return held_stream(body, client_address())
    except StreamRefused as err:
        raise json_error(503, str(err), headers={"Retry-After": str(STREAM_RETRY_AFTER_S)}) from None


def client_address(environ: dict | None = None) -> str:
    """The client's IP: the reverse proxy's X-Real-IP / X-Forwarded-For when TRUST_PROXY_HEADERS is set
    (behind nginx every request comes from nginx), else the socket's peer. `environ`: the current
    request's by default."""
    environ = request.environ if environ is None else environ
    if get_settings().trust_proxy_headers:
        forwarded = environ.get("HTTP_X_REAL_IP") or environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[0]
        if forwarded.strip():
            return forwarded.strip()
    return environ.get("REMOTE_ADDR") or "unknown"


def wants_html() -> bool:
    accept = request.headers.get("Accept", "")
    return request.method == "GET" and "text/html" in accept


def is_admin() -> bool:
    return check_api_key(request.headers.get("X-Admin-Key")) or is_valid_session(request.get_cookie(COOKIE))


class AdminAuth(Fixture):
    """Admin pages redirect to the login page; admin APIs answer 401 JSON."""

    def __init__(self):
        self.__prerequisites__ = [db]  # a session cookie is checked against the log-outs

    def on_request(self, context):
        if is_admin():
            return
        if wants_html():
            target = request.path + (f"?{request.query_string}" if request.query_string else "")
            redirect(f"/login?next={quote(target, safe='')}")
        raise json_error(401, "admin authentication required: log in at /login or send X-Admin-Key")


admin = AdminAuth()


SHELL = str(Path(__file__).parent / "templates" / "layout.html")


@lru_cache(maxsize=1)
def _admin_pages() -> tuple[dict, ...]:
    """Every module's admin pages, in the registry's order (manifests do not change while running)."""
    return tuple({"title": page["title"], "path": page["path"], "module": manifest.title}
                 for manifest in discover() for page in manifest.admin_pages)


def navigation(path: str) -> list[dict]:
    """The admin pages as navigation entries; `current` marks the one `path` belongs to."""
    pages = _admin_pages()
    matches = [page["path"] for page in pages
               if path == page["path"] or (page["path"] != "/" and path.startswith(page["path"].rstrip("/") + "/"))]
    current = max(matches, key=len, default=None)
    return [dict(page, current=page["path"] == current) for page in pages]


def menu(entries: list[dict]) -> list[tuple[str, list[dict]]]:
    """The navigation grouped by module: [(module title, its entries)], in the registry's order."""
    groups: list[tuple[str, list[dict]]] = []
    for entry in entries:
        if not groups or groups[-1][0] != entry["module"]:
            groups.append((entry["module"], []))
        groups[-1][1].append(entry)
    return groups


class Page(Template):
    """An app's page template, rendered inside the core's shell: templates start with
    `[[extend shell]]` and get `signed_in` and `menu` (from the manifests' admin_pages, by module)."""

    def __init__(self, filename: str, path: str | None = None, delimiters: str = "[[ ]]"):
        super().__init__(filename, path, delimiters)
        self.__prerequisites__ = [db]  # signed_in checks the session against the log-outs

    def on_success(self, context):
        if isinstance(context.get("output"), dict):
            signed_in = is_admin()
            context["template_inject"].update(shell=SHELL, signed_in=signed_in,
                                              menu=menu(navigation(request.path)) if signed_in else [],
                                              sandbox=get_settings().waddlebot_sandbox)
        super().on_success(context)
