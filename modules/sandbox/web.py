"""The HTTP plumbing every fake shares: a request/response pair, a small router, JSON answers, and
a threaded server on 127.0.0.1 (standard library only, so the fakes run anywhere, tests included).

A fake is an object with `handle(request) -> Response`; `serve(fake)` puts it on a free port, and a
test may instead hand requests to `handle` directly (e.g. from a `responses` callback)."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def from_url(cls, method: str, url: str, headers: Mapping[str, str] | None = None,
                 body: bytes | str | None = None) -> Request:
        parts = urlsplit(url)
        raw = body.encode() if isinstance(body, str) else body or b""
        return cls(method.upper(), parts.path, parse_qs(parts.query, keep_blank_values=True),
                   {name.lower(): value for name, value in (headers or {}).items()}, raw)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (first value of each field)."""
        return {key: values[0] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def form_lists(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def json(self) -> object:
        """The JSON body, or None when the body is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def bearer(self) -> str:
        return self.header("Authorization").removeprefix("Bearer ").removeprefix("OAuth ").strip()


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> object:
        return json.loads(self.body)


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, {"Content-Type": "text/html; charset=utf-8"}, text.encode())


def redirect(location: str) -> Response:
    return Response(302, {"Location": location})


def empty(status: int = 204) -> Response:
    return Response(status)


Handler = Callable[..., Response]


class Router:
    """(method, path pattern) → handler; `{name}` in a pattern becomes a keyword argument."""

    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method.upper(), regex, handler))

    def dispatch(self, request: Request, not_found: Callable[[Request], Response]) -> Response:
        allowed = False
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                return handler(request, **match.groupdict())
            allowed = allowed or bool(match)
        if allowed:
            return json_response({"error": "Method Not Allowed", "status": 405,
                                  "message": f"{request.method} is not supported on {request.path}"}, 405)
        return not_found(request)


class Fake(Protocol):
    def handle(self, request: Request) -> Response: ...


class _Handler(BaseHTTPRequestHandler):
    fake: Fake
    protocol_version = "HTTP/1.1"
    # headers and body go out as two writes: without TCP_NODELAY a kept-alive client's delayed ACK
    # holds the body back ~40 ms (the chat round trip went from 2 ms to 44 ms)
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request.from_url(self.command, self.path, dict(self.headers.items()), body)
        response = self.fake.handle(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = do_HEAD = _answer

    def log_message(self, *args) -> None:  # the fakes' traffic is shown on the sandbox page, not stderr
        pass


class Server:
    """A fake served on 127.0.0.1 (port 0: any free port) in a daemon thread."""

    def __init__(self, fake: Fake, port: int = 0):
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def twitch_error(status: int, message: str) -> Response:
    """Twitch's documented error body: {"error": reason phrase, "status": code, "message": …}."""
    return json_response({"error": http.client.responses.get(status, "Error"), "status": status,
                          "message": message}, status)
