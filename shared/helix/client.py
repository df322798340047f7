"""The one Helix pipeline: helix_proxy serves it and every app calls Helix through it.

A call takes its token (the app token, renewed once after a 401, or the caller's), waits for quota
in its Twitch bucket (shared through Redis when configured, paused when Twitch says the bucket is
empty), is served from the cache when its endpoint has a TTL (concurrent identical misses become
one upstream call) and is retried on 429 (after Ratelimit-Reset) and, for idempotent methods, on
5xx and connection errors (exponential backoff with jitter), behind a circuit breaker.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import requests
from requests.structures import CaseInsensitiveDict

from modules.twitch.helix import error_message, next_cursor, parse_ratelimit
from shared import redis_client
from shared.cache import Cache, NearCache, get_cache
from shared.crypto import digest
from shared.helix.breaker import CircuitBreaker, CircuitOpen
from shared.helix.cache import SingleFlight, cache_key, cache_ttls, decode_entry, encode_entry
from shared.helix.metrics import (
    CACHE,
    QUOTA_REMAINING,
    RATE_LIMIT_REFUSED,
    RATE_LIMIT_WAIT_SECONDS,
    RATE_LIMIT_WAITS,
    UPSTREAM_LATENCY,
    endpoint_label,
)
from shared.ratelimit import RateLimiter, get_rate_limiter
from shared.registry import NotConfigured
from shared.settings import Settings, get_settings
from shared.tokens import get_app_token, renew_app_token

__all__ = ["HelixResponse", "HelixUnavailable", "HelixError", "helix_request", "helix_cached", "helix_paginate",
           "get_helix_client"]

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: upstream headers a response carries (a cached one keeps only Content-Type)
PASSED_HEADERS = ("Content-Type", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset")
BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 5.0
UNKNOWN_RESET_PAUSE_S = 1.0  # a 429 without Ratelimit-Reset pauses its bucket this long
UNREACHABLE_RETRY_AFTER_S = 1.0
BURST_SECONDS = 2.0  # a rate-limit bucket holds this many seconds of its rate (its burst)
REPLICA_WAIT_MAX_S = 5.0  # longest wait for another replica's fetch of the same cache key
Params = list[tuple[str, str]] | dict | None


@dataclass
class HelixResponse:
    """A Helix answer as Twitch gave it (or as the cache kept it)."""

    status: int
    headers: dict[str, str]
    body: bytes
    cache: str  # "HIT", "MISS" or "BYPASS"

    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def raise_for_status(self) -> None:
        if not self.ok:
            raise HelixError(self)


class HelixUnavailable(Exception):
    """No call went out: the breaker is open, quota is further than RATE_LIMIT_MAX_WAIT_S away, or
    Twitch stayed unreachable through the retries. Try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class HelixError(Exception):
    """Twitch answered with an error status (raised by helix_paginate and raise_for_status)."""

    def __init__(self, response: HelixResponse):
        super().__init__(f"Helix answered {response.status}: {error_message(response.body)}")
        self.response = response
        self.status = response.status


@dataclass(frozen=True)
class HelixCall:
    method: str
    path: str
    params: list[tuple[str, str]]
    body: bytes | None
    headers: dict[str, str]
    user_token: str | None

    def __repr__(self) -> str:  # never the token
        return f"HelixCall({self.method} {self.path}, user_token={'set' if self.user_token else 'app'})"


def _pairs(params: Params) -> list[tuple[str, str]]:
    """Query parameters as (name, value) pairs; a dict value that is a list repeats the name."""
    if not params:
        return []
    items = params.items() if isinstance(params, dict) else params
    pairs = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((str(name), str(item)) for item in values)
    return pairs


class HelixClient:
    """The pipeline state of one process: breaker, in-flight misses, one HTTP session per thread."""

    def __init__(self, settings: Settings, limiter: RateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.limiter = limiter or get_rate_limiter()
        self.sleep = sleep
        self.ttls = cache_ttls(settings.helix_cache_ttls)
        self.breaker = CircuitBreaker(settings.helix_breaker_threshold, settings.helix_breaker_cooldown_s)
        self.flights: SingleFlight[HelixResponse] = SingleFlight()
        self._local = threading.local()
        self._random = random.Random()

    # --- cache and coalescing ---------------------------------------------------------------
    def request(self, call: HelixCall, cache_ttl: float | None = None) -> HelixResponse:
        ttl = self.ttls.get(call.path, 0.0) if cache_ttl is None else cache_ttl
        if call.method != "GET" or ttl <= 0:
            return self._fetch(call, "BYPASS")
        key = cache_key(call.method, call.path, call.params, self._scope(call)[0])
        response = self._hit(call.path, key)
        if response is not None:
            return response
        endpoint = endpoint_label(call.path)
        response, leader = self.flights.run(key, lambda: self._fill(call, key, ttl),
                                            on_wait=CACHE.labels(endpoint, "coalesced").inc)
        if not leader:  # served by a concurrent identical miss, without an upstream call of its own
            return replace(response, cache="HIT")
        CACHE.labels(endpoint, "hit" if response.cache == "HIT" else "miss").inc()
        return response

    def cached(self, call: HelixCall) -> HelixResponse | None:
        """The answer `request` would serve from this process's cache (counted as a hit), or None.
        Nothing goes upstream and Redis is not read: a None is settled by `request`."""
        if call.method != "GET" or self.ttls.get(call.path, 0.0) <= 0:
            return None
        return self._hit(call.path, cache_key(call.method, call.path, call.params, self._scope(call)[0]))

    def _hit(self, path: str, key: str) -> HelixResponse | None:
        cache = self._cache()  # with Redis, only this process's copy here: the miss path reads Redis
        response = _answer(cache.local.get(key) if isinstance(cache, NearCache) else cache.get(key))
        if response is not None:
            _hits(path).inc()
        return response

    def _cache(self) -> Cache:
        return get_cache("helix", self.settings.helix_cache_max_entries, near=True)

    def _lookup(self, key: str) -> HelixResponse | None:
        return _answer(self._cache().get(key))

    def _fill(self, call: HelixCall, key: str, ttl: float) -> HelixResponse:
        """The one fetch of a miss. Looks again first: a flight that just ended may have stored it."""
        cache = self._cache()
        if isinstance(cache, NearCache):
            return self._fill_shared(call, key, ttl, cache)
        return self._lookup(key) or self._fetch_and_store(call, key, ttl, cache)

    def _fill_shared(self, call: HelixCall, key: str, ttl: float, cache: NearCache) -> HelixResponse:
        """With Redis, replicas coalesce too: the first takes a short lock and fetches; the others
        wait for its cache entry and fetch themselves only if it does not come in time. Reading
        the cache and taking the lock are one step: a fetch that ended just before, here or in
        another replica, stored its answer before letting the lock go."""
        client, lock = redis_client.get_redis(), redis_client.key("helix-lock", key)
        timeout = self.settings.helix_timeout_s
        raw, locked = cache.get_or_lock(key, lock, timeout)
        if locked:
            try:
                response = self._fetch(call, "MISS")
            except BaseException:
                client.delete(lock)
                raise
            if response.ok:
                cache.set_and_unlock(key, _entry(response), ttl, lock)
            else:
                client.delete(lock)
            return response
        deadline = time.monotonic() + min(timeout, REPLICA_WAIT_MAX_S)
        while raw is None and time.monotonic() < deadline and client.exists(lock):
            time.sleep(0.02)
            raw = cache.get(key)
        return _answer(raw or cache.get(key)) or self._fetch_and_store(call, key, ttl, cache)

    def _fetch_and_store(self, call: HelixCall, key: str, ttl: float, cache: Cache) -> HelixResponse:
        response = self._fetch(call, "MISS")
        if response.ok:
            cache.set(key, _entry(response), ttl)
        return response

    # --- the upstream call with its retries -------------------------------------------------
    def _fetch(self, call: HelixCall, label: str) -> HelixResponse:
        app_token = None if call.user_token else get_app_token()
        headers = self._headers(call, call.user_token or app_token)
        failures = throttled = 0
        renewed = False
        while True:
            upstream = self._send(call, headers)
            status = upstream.status_code if upstream is not None else None
            if status is None or status >= 500:
                failures += 1
                if failures < self.settings.helix_max_retries and call.method in IDEMPOTENT:
                    self.sleep(self._backoff(failures))
                    continue
                if upstream is None:
                    raise HelixUnavailable(f"Twitch Helix unreachable after {failures} tries",
                                           max(UNREACHABLE_RETRY_AFTER_S, self.breaker.open_for()))
            elif status == 429 and throttled + 1 < self.settings.helix_max_retries:
                throttled += 1  # Twitch did not process it, so any method may go again after the reset
                continue
            elif status == 401 and app_token is not None and not renewed:
                renewed, rejected, app_token = True, app_token, renew_app_token(app_token)
                if app_token != rejected:  # else renewed moments ago: the 401 is not about our token
                    headers = self._headers(call, app_token)
                    continue
            passed = {name: upstream.headers[name] for name in PASSED_HEADERS if name in upstream.headers}
            return HelixResponse(upstream.status_code, passed, upstream.content, label)

    def _send(self, call: HelixCall, headers: CaseInsensitiveDict) -> requests.Response | None:
        """One upstream call within the breaker and the bucket; None when the connection failed."""
        try:
            self.breaker.acquire()
        except CircuitOpen as err:
            raise HelixUnavailable(f"Twitch Helix is failing; calls paused for {err.retry_after:.1f} s",
                                   err.retry_after) from None
        scope, kind = self._scope(call)
        try:
            self._take_quota(scope, kind)
        except HelixUnavailable:
            self.breaker.release()
            raise
        endpoint, started = endpoint_label(call.path), time.perf_counter()
        try:
            upstream = self._session().request(
                call.method, f"{self.settings.twitch_helix_url}/{call.path}", params=call.params,
                data=call.body, headers=headers, timeout=self.settings.helix_timeout_s)
        except requests.RequestException as err:
            UPSTREAM_LATENCY.labels(endpoint, call.method, "error").observe(time.perf_counter() - started)
            self.breaker.record_failure()
            log.warning("Helix %s %s failed: %s", call.method, call.path, err.__class__.__name__)
            return None
        UPSTREAM_LATENCY.labels(endpoint, call.method, str(upstream.status_code)).observe(
            time.perf_counter() - started)
        self._obey_ratelimit(upstream, scope, kind)
        if upstream.status_code >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        if upstream.status_code >= 400:
            log.warning("Helix %s %s answered %s: %s", call.method, call.path, upstream.status_code,
                        error_message(upstream.content))
        return upstream

    def _headers(self, call: HelixCall, token: str) -> CaseInsensitiveDict:
        """The caller's headers plus Authorization; Client-Id is ours unless a caller's token came
        with its own (an app token only works with the client id it was issued to)."""
        headers = CaseInsensitiveDict(call.headers)
        if call.user_token is None or not headers.get("Client-Id"):
            if not self.settings.twitch_app_id:
                raise NotConfigured("set TWITCH_APP_ID (Helix needs a Client-Id) or send a Client-Id header")
            headers["Client-Id"] = self.settings.twitch_app_id
        headers["Authorization"] = f"Bearer {token}"
        return headers

    def _session(self) -> requests.Session:
        """This thread's session: its connections to Twitch are kept alive and reused. The proxy
        and CA bundle the environment gives for TWITCH_HELIX_URL are read once, as requests would
        read them (it would otherwise scan the environment again on every call)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            environment = session.merge_environment_settings(self.settings.twitch_helix_url, {}, None, None, None)
            session.proxies.update(environment["proxies"])
            session.verify = environment["verify"]
            session.trust_env = False
        return session

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: half to all of base · 2^(failures-1), capped."""
        return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (failures - 1)) * (0.5 + self._random.random() / 2)


    # --- rate limiting ------------------------------------------------------------------------
    def _scope(self, call: HelixCall) -> tuple[str, str]:
        """(Twitch bucket = cache identity, kind): the client id for the app token, the token's
        digest for a caller's token (the token itself is never kept)."""
        if call.user_token:
            return f"helix:user:{digest(call.user_token)}", "user"
        return f"helix:app:{self.settings.twitch_app_id}", "app"

    def _take_quota(self, bucket: str, kind: str) -> None:
        """Wait for a token of the bucket, or raise HelixUnavailable when it is too far away."""
        rate, max_wait = self.settings.rate_limit_requests_per_second, self.settings.rate_limit_max_wait_s
        reservation = self.limiter.reserve(bucket, rate, BURST_SECONDS * rate, max_wait)
        if not reservation.granted:
            RATE_LIMIT_REFUSED.labels(kind).inc()
            raise HelixUnavailable(f"Helix rate limit: next quota in {reservation.wait:.1f} s, more than "
                                   f"RATE_LIMIT_MAX_WAIT_S={max_wait:g}", reservation.wait)
        if reservation.wait > 0:
            RATE_LIMIT_WAITS.labels(kind).inc()
            RATE_LIMIT_WAIT_SECONDS.labels(kind).inc(reservation.wait)
            self.sleep(reservation.wait)

    def _obey_ratelimit(self, upstream: requests.Response, bucket: str, kind: str) -> None:
        """When Twitch says the bucket is empty (or answers 429), nothing goes out before its reset."""
        limit = parse_ratelimit(upstream.headers)
        if limit is not None:
            QUOTA_REMAINING.labels(kind).set(limit.remaining)
        if upstream.status_code != 429 and (limit is None or limit.remaining > 0):
            return
        now = time.time()
        until = limit.reset if limit is not None and limit.reset is not None else now + UNKNOWN_RESET_PAUSE_S
        self.limiter.pause_until(bucket, max(until, now), 0)


@functools.lru_cache(maxsize=1024)
def _hits(path: str):
    return CACHE.labels(endpoint_label(path), "hit")


def _entry(response: HelixResponse) -> bytes:
    """A 2xx answer as the cache keeps it (its body and Content-Type)."""
    headers = {name: value for name, value in response.headers.items() if name == "Content-Type"}
    return encode_entry(response.status, headers, response.body)


def _answer(raw: bytes | None) -> HelixResponse | None:
    """A cache entry as the answer it serves."""
    if raw is None:
        return None
    status, headers, body = decode_entry(raw)
    return HelixResponse(status, headers, body, "HIT")


_client: HelixClient | None = None
_client_lock = threading.Lock()


def get_helix_client() -> HelixClient:
    """This process's pipeline, rebuilt when the settings change (tests, reloaded configuration)."""
    global _client
    settings = get_settings()
    client = _client
    if client is not None and client.settings is settings:  # no lock on the way of every request
        return client
    with _client_lock:
        if _client is None or _client.settings is not settings:
            _client = HelixClient(settings)
        return _client


def helix_request(method: str, path: str, *, params: Params = None, body: bytes | None = None,
                  headers: dict[str, str] | None = None, user_token: str | None = None,
                  cache_ttl: float | None = None) -> HelixResponse:
    """One Helix call through the pipeline. `path` is relative to TWITCH_HELIX_URL ("users").

    user_token None → the app token (renewed once and retried on a 401); a caller's token → its 401
    is returned. cache_ttl None → the endpoint's TTL (HELIX_CACHE_TTLS), 0 → never cached.
    Non-2xx answers are returned. Raises HelixUnavailable (retry later), NotConfigured (no app
    credentials) and whatever shared.tokens raises when the app token cannot be obtained."""
    return get_helix_client().request(_call(method, path, params, body, headers, user_token), cache_ttl)


def helix_cached(method: str, path: str, *, params: Params = None, user_token: str | None = None
                 ) -> HelixResponse | None:
    """What helix_request would answer from this process's cache, or None (then ask helix_request).
    Never waits, never goes upstream: the cheap first look of a server's hot path."""
    return get_helix_client().cached(_call(method, path, params, None, None, user_token))


def _call(method: str, path: str, params: Params, body: bytes | None, headers: dict[str, str] | None,
          user_token: str | None) -> HelixCall:
    return HelixCall(method.upper(), path.strip("/"), _pairs(params), body, dict(headers or {}), user_token or None)


def helix_paginate(path: str, *, params: Params = None, user_token: str | None = None) -> Iterator[dict]:
    """Every item of "data" over all pages (following pagination.cursor). Raises HelixError on a
    non-2xx page, besides what helix_request raises."""
    pairs = [pair for pair in _pairs(params) if pair[0] != "after"]
    cursor = next((value for name, value in _pairs(params) if name == "after"), None)
    while True:
        page = helix_request("GET", path, params=pairs + ([("after", cursor)] if cursor else []),
                             user_token=user_token)
        page.raise_for_status()
        payload = page.json()
        items = payload.get("data") or []
        yield from items
        cursor = next_cursor(payload)
        if not cursor or not items:
            return
