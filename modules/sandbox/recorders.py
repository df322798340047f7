"""Recording fakes of the WaddleBot APIs: the reputation API (activities), the context API
(identity lookups, answering an identity id and namespace) and the gateway activation API. Each
keeps what it received, newest last, for the sandbox page."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from modules.sandbox.web import Request, Response, json_response

KEPT = 500  # received calls kept per API


@dataclass
class Received:
    api: str
    at: float
    body: object
    idempotency_key: str = ""
    api_key: str = ""

    def as_dict(self) -> dict:
        return {"api": self.api, "at": self.at, "body": self.body, "idempotency_key": self.idempotency_key}


@dataclass
class FakeWaddlebotApis:
    """POST /reputation, /context, /gateway/activate. `api_key` (when set) must come in X-API-Key;
    a repeated Idempotency-Key is answered 200 again without being recorded twice."""

    api_key: str = ""
    clock: Callable[[], float] = time.time
    received: dict[str, deque] = field(default_factory=lambda: {name: deque(maxlen=KEPT)
                                                                for name in ("reputation", "context", "gateway")})
    counts: dict[str, int] = field(default_factory=lambda: {"reputation": 0, "context": 0, "gateway": 0})
    _keys: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        api = {"/reputation": "reputation", "/context": "context", "/gateway/activate": "gateway"}.get(request.path)
        if api is None:
            return json_response({"error": f"no such API {request.path}"}, 404)
        if request.method != "POST":
            return json_response({"error": "POST only"}, 405)
        if self.api_key and request.header("X-API-Key") != self.api_key:
            return json_response({"error": "X-API-Key missing or wrong"}, 401)
        body = request.json()
        if not isinstance(body, dict):
            return json_response({"error": "a JSON object is expected"}, 400)
        key = request.header("Idempotency-Key")
        with self._lock:
            if not (key and f"{api}:{key}" in self._keys):
                self._keys.add(f"{api}:{key}")
                self.received[api].append(Received(api, self.clock(), body, key))
                self.counts[api] += 1
        if api == "context":
            identity = hashlib.sha256(f"{body.get('platform')}:{body.get('platform_user_id')}".encode()).hexdigest()
            return json_response({"identity_id": f"id-{identity[:12]}", "namespace": "sandbox"})
        return json_response({"ok": True}, 202 if api == "reputation" else 200)

    def latest(self, api: str, count: int = 50) -> list[dict]:
        with self._lock:
            return [item.as_dict() for item in list(self.received[api])[-count:]][::-1]
