"""helix_proxy routes: the seed's endpoints and a drop-in Helix base URL, all on shared.helix.

Answers are Helix's own bytes; errors of the proxy itself use Helix's error shape."""

from __future__ import annotations

import functools
import gzip
import json
import logging
import time
from urllib.parse import parse_qsl

from py4web import action, request, response
from redis import RedisError

from modules.twitch.helix import (
    ParamError,
    chatters_params,
    error_body,
    is_valid_path,
    moderated_channels_params,
    users_params,
)
from modules.twitch.oauth import OAuthError
from shared.fixtures import client_address
from shared.helix import HelixResponse, HelixUnavailable, helix_request
from shared.registry import ModuleError, NotConfigured

log = logging.getLogger("apps.helix_proxy")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
FORWARDED_REQUEST_HEADERS = ("Client-Id", "Content-Type")


class Refused(Exception):
    """The proxy answers itself, in Helix's error shape."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def _refusal(err: Exception) -> Refused:
    """The answer to a failure that kept the call from reaching Twitch."""
    if isinstance(err, ParamError):
        return Refused(400, str(err))
    if isinstance(err, HelixUnavailable):
        return Refused(503, str(err), retry_after=err.retry_after)
    if isinstance(err, NotConfigured):
        return Refused(503, f"Helix proxy not configured: {err}")
    if isinstance(err, RedisError):
        return Refused(503, f"Redis unavailable ({err.__class__.__name__}); check REDIS_URL", retry_after=1)
    if isinstance(err, OAuthError):
        return Refused(503, f"no app token from Twitch ({err}); check TWITCH_APP_ID and TWITCH_APP_SECRET")
    return Refused(503, f"app token unavailable: {err}")


def _error_response(refused: Refused) -> HelixResponse:
    headers = {"Content-Type": "application/json"}
    if refused.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(refused.retry_after + 0.999)))
    return HelixResponse(refused.status, headers, json.dumps(error_body(refused.status, str(refused))).encode(),
                         "BYPASS")


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, quality = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return quality.strip().replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _write(result: HelixResponse) -> bytes:
    """Status, headers and body of the answer; gzip-compressed when the client accepts it."""
    response.status = result.status
    response.headers.update(result.headers)
    response.headers["X-Cache"] = result.cache
    response.headers["Vary"] = "Accept-Encoding"
    body = result.body
    if body and _accepts_gzip(request.headers.get("Accept-Encoding", "")):
        body = gzip.compress(body, compresslevel=5)
        response.headers["Content-Encoding"] = "gzip"
    return body


def proxied(handler):
    """Turn a handler's HelixResponse (or failure) into the HTTP answer; one log line per request."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            result = handler(*args, **kwargs)
        except Refused as refused:
            result = _error_response(refused)
        except (ParamError, HelixUnavailable, ModuleError, OAuthError, RedisError) as err:
            result = _error_response(_refusal(err))
        body = _write(result)
        log.info("%s %s client=%s status=%s duration=%.1fms cache=%s", request.method, request.path,
                 client_address(), result.status, (time.perf_counter() - started) * 1000,
                 result.cache)
        return body

    return wrapper


def _query() -> list[tuple[str, str]]:
    """The query as (name, value) pairs, repeated names kept (id=1&id=2)."""
    return parse_qsl(request.environ.get("QUERY_STRING", ""), keep_blank_values=True)


def _bearer(required: bool) -> str | None:
    """The caller's token from Authorization: Bearer …; 401 when it is required and absent."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        if required:
            raise Refused(401, "OAuth token is missing: send Authorization: Bearer <user access token>")
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "malformed Authorization header: expected 'Bearer <access token>'")
    return token.strip()


@action("healthz", method=["GET"])
def healthz():
    response.headers["Content-Type"] = "text/plain"
    return "ok"


@action("chatters", method=["GET"])
@proxied
def chatters():
    """Helix chat/chatters with the caller's token (moderator scope); never cached."""
    token = _bearer(required=True)
    return helix_request("GET", "chat/chatters", params=chatters_params(_query()), user_token=token, cache_ttl=0)


@action("users", method=["GET"])
@proxied
def users():
    """Helix users by id and/or login (≤ 100); the caller's token if sent, else the app token."""
    token = _bearer(required=False)
    params = users_params(_query())
    if not params and token is None:
        raise ParamError("missing required parameter id or login (or send a user token to get its own user)")
    return helix_request("GET", "users", params=params, user_token=token)


@action("moderated-channels", method=["GET"])
@proxied
def moderated_channels():
    """Helix moderation/channels of the token's user."""
    token = _bearer(required=True)
    return helix_request("GET", "moderation/channels", params=moderated_channels_params(_query()), user_token=token)


@action("helix/<path:path>", method=METHODS)
@proxied
def helix(path):
    """Any Helix call, unchanged: method, query, body; Client-Id added when absent."""
    if not is_valid_path(path):
        raise Refused(404, f"not a Helix endpoint path: {path!r}")
    token = _bearer(required=False)
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if request.headers.get(name)}
    body = request.body.read() if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
    return helix_request(request.method, path, params=_query(), body=body or None, headers=headers,
                         user_token=token)
