"""helix_proxy routes: the seed's endpoints and a drop-in Helix base URL, all on shared.helix.

Answers are Helix's own bytes; errors of the proxy itself use Helix's error shape."""

from __future__ import annotations

import functools
import gzip
import json
import logging
import time
from collections.abc import Callable
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
from shared.adminauth import authenticate_service, check_api_key
from shared.fixtures import client_address
from shared.helix.client import HelixResponse, HelixUnavailable, helix_cached, helix_request
from shared.registry import ModuleError, NotConfigured
from shared.web import LaneAnswer, fast_lane

APP = __package__.rsplit(".", 1)[-1]
log = logging.getLogger(f"apps.{APP}")
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


def _encoded(result: HelixResponse, accept_encoding: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of the answer; gzip-compressed when the client accepts it."""
    headers = {**result.headers, "X-Cache": result.cache, "Vary": "Accept-Encoding"}
    body = result.body
    if body and _accepts_gzip(accept_encoding):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return headers, body


def _log(method: str, path: str, client: str, result: HelixResponse, started: float) -> None:
    log.info("%s %s client=%s status=%s duration=%.1fms cache=%s", method, path, client, result.status,
             (time.perf_counter() - started) * 1000, result.cache)


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
        headers, body = _encoded(result, request.headers.get("Accept-Encoding", ""))
        response.status = result.status
        response.headers.update(headers)
        _log(request.method, request.path, client_address(), result, started)
        return body

    return wrapper


def _query(environ: dict) -> list[tuple[str, str]]:
    """The query as (name, value) pairs, repeated names kept (id=1&id=2)."""
    return parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def _bearer(environ: dict, required: bool) -> str | None:
    """The caller's token from Authorization: Bearer …; 401 when it is required and absent."""
    header = environ.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        if required:
            raise Refused(401, "OAuth token is missing: send Authorization: Bearer <user access token>")
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "malformed Authorization header: expected 'Bearer <access token>'")
    return token.strip()


ANONYMOUS = ("authentication required: send your own Authorization: Bearer <access token>, or the app token is "
             "used only for an admin (X-Admin-Key) or a service account (X-Client-Id and X-Client-Secret)")


def _caller_token(environ: dict, lane: bool = False) -> str | None:
    """The caller's own Bearer token, or None when the app token may be used: for an admin key, or a
    service account allowed this method. Anyone else: 401 (403 for a method the account may not use).

    `lane`: the cache lane settles admin keys and callers' tokens only; a service account's
    credentials (a database lookup) go to the routes."""
    token = _bearer(environ, required=False)
    if token is not None or check_api_key(environ.get("HTTP_X_ADMIN_KEY")):
        return token
    client_id, secret = environ.get("HTTP_X_CLIENT_ID"), environ.get("HTTP_X_CLIENT_SECRET")
    if not (client_id or secret) or lane:
        raise Refused(401, ANONYMOUS)
    account = authenticate_service(client_id, secret)
    if account is None:
        raise Refused(401, "invalid X-Client-Id or X-Client-Secret")
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in account.helix_methods:
        raise Refused(403, f"service account {account.name!r} may not send {method} with the app token: an admin "
                           "allows it with PUT /twitch_webhooks/v1/admin/service-accounts/<client_id>/helix-methods")
    return None


#: a cached GET route's Helix call from the request: (Helix path, query pairs, caller's token)
CachedCall = tuple[str, list[tuple[str, str]], str | None]


def _users_call(environ: dict, lane: bool = False) -> CachedCall:
    token = _caller_token(environ, lane)
    params = users_params(_query(environ))
    if not params and token is None:
        raise ParamError("missing required parameter id or login (or send a user token to get its own user)")
    return "users", params, token


def _moderated_channels_call(environ: dict, lane: bool = False) -> CachedCall:
    return "moderation/channels", moderated_channels_params(_query(environ)), _bearer(environ, required=True)


def _helix_path(path: str) -> str:
    if not is_valid_path(path):
        raise Refused(404, f"not a Helix endpoint path: {path!r}")
    return path


BASE_URL = f"/{APP}/helix/"
BASE_URL_RULE = f"{BASE_URL}<path:path>"


def _base_url_call(environ: dict, lane: bool = False) -> CachedCall:
    return _helix_path(environ["PATH_INFO"].removeprefix(BASE_URL)), _query(environ), _caller_token(environ, lane)


#: route rule → the Helix call of a GET on it, for the routes whose answers are cached
CACHED_ROUTES: dict[str, Callable[..., CachedCall]] = {
    f"/{APP}/users": _users_call,
    f"/{APP}/moderated-channels": _moderated_channels_call,
    BASE_URL_RULE: _base_url_call,
}


@fast_lane(f"/{APP}/")
def cache_hits(environ: dict) -> LaneAnswer | None:
    """A GET this process has the answer of in its cache, answered before py4web routes it: the
    same answer, log line and metrics as the route's, for a fraction of the Python time. Anything
    else (a miss, bad input, another method) goes to the routes below."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    started = time.perf_counter()
    path_info = environ.get("PATH_INFO", "")
    rule = BASE_URL_RULE if path_info.startswith(BASE_URL) else path_info
    call = CACHED_ROUTES.get(rule)
    if call is None:
        return None
    try:
        path, params, token = call(environ, lane=True)
    except (ParamError, Refused):
        return None
    result = helix_cached("GET", path, params=params, user_token=token)
    if result is None:
        return None
    headers, body = _encoded(result, environ.get("HTTP_ACCEPT_ENCODING", ""))
    headers["Content-Length"] = str(len(body))
    _log("GET", path_info, client_address(environ), result, started)
    return LaneAnswer(result.status, list(headers.items()), body, rule)


@action("healthz", method=["GET"])
def healthz():
    response.headers["Content-Type"] = "text/plain"
    return "ok"


@action("chatters", method=["GET"])
@proxied
def chatters():
    """Helix chat/chatters with the caller's token (moderator scope); never cached."""
    token = _bearer(request.environ, required=True)
    return helix_request("GET", "chat/chatters", params=chatters_params(_query(request.environ)), user_token=token,
                         cache_ttl=0)


@action("users", method=["GET"])
@proxied
def users():
    """Helix users by id and/or login (≤ 100); the caller's token if sent, else the app token."""
    path, params, token = _users_call(request.environ)
    return helix_request("GET", path, params=params, user_token=token)


@action("moderated-channels", method=["GET"])
@proxied
def moderated_channels():
    """Helix moderation/channels of the token's user."""
    path, params, token = _moderated_channels_call(request.environ)
    return helix_request("GET", path, params=params, user_token=token)


@action("helix/<path:path>", method=METHODS)
@proxied
def helix(path):
    """Any Helix call, unchanged: method, query, body; Client-Id added when absent."""
    path = _helix_path(path)
    token = _caller_token(request.environ)
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if request.headers.get(name)}
    body = request.body.read() if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
    return helix_request(request.method, path, params=_query(request.environ), body=body or None, headers=headers,
                         user_token=token)
