"""One access-log line per HTTP request: method, path, status, duration and client; never a secret.

The query string is left out (OAuth's `code`, a hub's `client_secret` travel there) and a path
segment shaped like a token (a magic link's) is masked, so nothing secret reaches the log."""

from __future__ import annotations

import logging
import re
import time

log = logging.getLogger("waddlebot.access")
_MASK = "***"
_TOKEN_MIN_LENGTH = 20
_NOT_SECRET = re.compile(r"\d+|[a-z]{1,12}(?:[-_.][a-z]{1,12})*")  # an id, or route words: moderated-channels


def _token_shaped(segment: str) -> bool:
    """Long and neither a route name (short lower-case words) nor a numeric id: a token."""
    return len(segment) >= _TOKEN_MIN_LENGTH and _NOT_SECRET.fullmatch(segment) is None


def loggable_path(path: str) -> str:
    """The path with token-shaped segments masked."""
    return "/".join(_MASK if _token_shaped(segment) else segment for segment in path.split("/"))


def access_log(app):
    """WSGI middleware: one INFO line on `waddlebot.access` per request, when INFO is enabled.

    The duration runs until the application returned its answer (a stream's first byte), so an
    SSE stream is logged when it starts, not when it ends."""
    from shared.fixtures import client_address  # opens the database: only once the apps are loaded

    def wrapped(environ, start_response):
        if not log.isEnabledFor(logging.INFO):
            return app(environ, start_response)
        started = time.perf_counter()
        method, path = environ.get("REQUEST_METHOD", "GET"), loggable_path(environ.get("PATH_INFO", ""))
        status = ["500"]

        def recording_start_response(status_line, headers, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            return app(environ, recording_start_response)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            client = client_address(environ)
            log.info("%s %s %s %.1fms client=%s", method, path, status[0], duration_ms, client,
                     extra={"method": method, "path": path, "status": int(status[0]),
                            "duration_ms": duration_ms, "client": client})

    return wrapped
