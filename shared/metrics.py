"""Prometheus metrics: request counts and latencies per route, served at GET /metrics.

With several web processes (WEB_WORKERS) every process writes its figures to files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set up by shared.web.serve) and
/metrics adds them up, whichever process answers."""

from __future__ import annotations

import os
import time
from functools import lru_cache

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from shared.settings import APPS_FOLDER

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: request methods that are labels; any other a client makes up is "other" (labels from a fixed set)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LANE_ROUTE = "waddlebot.lane_route"  # environ key: the route rule of an answer given by a fast lane
REQUESTS = Counter("waddlebot_http_requests_total", "HTTP requests", ["app", "route", "method", "status"])
LATENCY = Histogram("waddlebot_http_request_seconds", "HTTP request latency", ["app", "route", "method"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def _route_label(environ: dict) -> tuple[str, str]:
    """(app, route rule) of the matched route; the rule keeps ids out of the labels."""
    rule = environ.get(LANE_ROUTE)
    if rule is None:
        route = getattr(environ.get("ombott.route"), "route", None)
        if route is None:
            return "none", "unmatched"
        rule = str(route.rule)
    return _app_of(rule.split("/")[1]), rule


@lru_cache(maxsize=256)
def _app_of(first_segment: str) -> str:
    return first_segment if (APPS_FOLDER / first_segment / "manifest.json").exists() else "_default"


def metrics_middleware(app):
    """WSGI middleware timing every request by its route rule (not its raw path)."""

    def wrapped(environ, start_response):
        started = time.perf_counter()
        status_holder = []

        def recording_start_response(status, headers, exc_info=None):
            status_holder.append(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            return app(environ, recording_start_response)
        finally:
            method = environ.get("REQUEST_METHOD", "GET")
            count, latency = _series(*_route_label(environ), method if method in METHODS else "other",
                                     status_holder[0] if status_holder else "500")
            count.inc()
            latency.observe(time.perf_counter() - started)

    return wrapped


@lru_cache(maxsize=4096)
def _series(app_name: str, route: str, method: str, status: str):
    """The request counter and latency histogram of one label set (labels() costs more than inc())."""
    return REQUESTS.labels(app_name, route, method, status), LATENCY.labels(app_name, route, method)


def render() -> tuple[bytes, str]:
    if not os.environ.get(MULTIPROCESS_DIR):
        return generate_latest(), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
