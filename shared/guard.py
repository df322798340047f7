"""What keeps a few clients from tying up every web thread: long-lived streams (SSE) and request
bodies each hold at most a share of the threads, in all and per client.

A WSGI server gives each request a thread until its answer is done. An SSE stream holds one for
minutes, and a body sent slowly (or never finished) holds one while the app reads it (Granian
calls the app before the body has arrived). So streams take a slot (SSE_MAX_STREAMS,
SSE_MAX_STREAMS_PER_CLIENT) and are refused 503 when none is free, and only so many bodies are
read at once, in all and per client (503 beyond). Requests without a body always find a thread."""

from __future__ import annotations

import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache

from shared.settings import get_settings

READ_CHUNK = 65536
BODIES_PER_CLIENT = 2


class Slots:
    """A cap on things held at once, in all and per client (thread-safe counters)."""

    def __init__(self, total: int, per_client: int):
        self.total, self.per_client = total, per_client
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    def take(self, client: str) -> str | None:
        """None when a slot was taken for `client`, else why not (for the answer's message)."""
        with self._lock:
            if self._held[client] >= self.per_client:
                return f"this client holds {self.per_client} already"
            if sum(self._held.values()) >= self.total:
                return f"all {self.total} are in use"
            self._held[client] += 1
            return None

    def give_back(self, client: str) -> None:
        with self._lock:
            self._held[client] -= 1
            if self._held[client] <= 0:
                del self._held[client]

    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())


@lru_cache(maxsize=8)
def _slots(kind: str, total: int, per_client: int) -> Slots:
    """One Slots per kind and caps (the caps change only with the settings, in tests)."""
    return Slots(total, per_client)


def stream_slots() -> Slots:
    settings = get_settings()
    return _slots("streams", min(settings.sse_max_streams, settings.web_threads // 2),
                  settings.sse_max_streams_per_client)


class StreamRefused(Exception):
    """No stream slot is free; the message says why."""


class HeldStream:
    """An SSE body that holds its client's stream slot until the server closes it (or drops it)."""

    def __init__(self, body: Iterator[bytes], client: str, slots: Slots):
        self.body, self.client, self.slots = body, client, slots
        self._released = threading.Event()

    def __iter__(self) -> HeldStream:
        return self

    def __next__(self) -> bytes:
        return next(self.body)

    def close(self) -> None:
        if not self._released.is_set():
            self._released.set()
            self.slots.give_back(self.client)
        close = getattr(self.body, "close", None)
        if close is not None:
            close()

    def __del__(self):
        self.close()


def held_stream(body: Iterator[bytes], client: str) -> HeldStream:
    """`body` served within a stream slot of `client`; StreamRefused when none is free."""
    slots = stream_slots()
    refusal = slots.take(client)
    if refusal is not None:
        raise StreamRefused(f"too many live streams ({refusal}); retry later")
    return HeldStream(body, client, slots)


# --- request bodies ------------------------------------------------------------------------
def _body_slots() -> Slots:
    return _slots("bodies", max(1, get_settings().web_threads // 4), BODIES_PER_CLIENT)


def _has_body(environ: dict) -> bool:
    return environ.get("CONTENT_LENGTH", "") not in ("", "0") or "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", "").lower()


def _read_all(stream, length: int) -> bytes:
    """The body's `length` bytes (its Content-Length); never a read past its end."""
    chunks, size = [], 0
    while size < length:
        chunk = stream.read(min(READ_CHUNK, length - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _refuse(start_response, status: str, message: str, retry_after: int | None = None) -> list[bytes]:
    code = int(status.split()[0])
    body = json.dumps({"error": status.split(" ", 1)[1], "status": code, "message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    start_response(status, headers)
    return [body]


def bounded_bodies(app, client_of: Callable[[dict], str]):
    """WSGI middleware: a body is read in full before `app` runs (413 beyond REQUEST_MAX_BODY_BYTES;
    a chunked one is read by the app, within its slot) while a client has at most BODIES_PER_CLIENT
    bodies being read and all clients a quarter of WEB_THREADS (503 beyond): stalled bodies never
    hold more than that share of the threads.

    Granian cannot cut a stalled body off (it has no body timeout, and a read left behind blocks
    the worker), so cutting off is nginx's job (client_body_timeout, docker/nginx.conf)."""

    def wrapped(environ, start_response):
        if not _has_body(environ):
            return app(environ, start_response)
        limit = get_settings().request_max_body_bytes
        try:
            declared = int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
        except ValueError:
            declared = -1
        if declared is not None and declared < 0:
            return _refuse(start_response, "400 Bad Request", "Content-Length is not a number of bytes")
        if declared is not None and declared > limit:
            return _refuse(start_response, "413 Request Entity Too Large",
                           f"the body exceeds REQUEST_MAX_BODY_BYTES ({limit} bytes)")
        client, slots = client_of(environ), _body_slots()
        refusal = slots.take(client)
        if refusal is not None:
            return _refuse(start_response, "503 Service Unavailable", f"too many bodies being sent ({refusal})", 1)
        if declared is None:  # chunked: the framework decodes it while the app reads, within the slot
            try:
                return app(environ, start_response)
            finally:
                slots.give_back(client)
        try:
            body = _read_all(environ["wsgi.input"], declared)
        finally:
            slots.give_back(client)
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return wrapped


#: a control character but tab, as is or percent-encoded (a server has decoded the path, not the query)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]|%(?:0[0-8a-fA-F]|1[0-9a-fA-F])")


def well_formed(app):
    """WSGI middleware: 400 for a path or query holding control characters (NUL, CR, LF …), which no
    route takes and some databases refuse mid-query."""

    def wrapped(environ, start_response):
        if _CONTROL.search(environ.get("PATH_INFO", "")) or _CONTROL.search(environ.get("QUERY_STRING", "")):
            return _refuse(start_response, "400 Bad Request",
                           "the path or query holds control characters (NUL, CR, LF …): remove them")
        return app(environ, start_response)

    return wrapped
