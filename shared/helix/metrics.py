"""Prometheus metrics of the Helix pipeline (route request counts come from shared.metrics)."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram

UPSTREAM_LATENCY = Histogram(
    "waddlebot_helix_upstream_seconds", "Latency of Helix upstream calls", ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CACHE = Counter("waddlebot_helix_cache_total", "Helix cache lookups: hit, miss, or coalesced (joined an identical "
                "miss in flight)", ["endpoint", "result"])
RATE_LIMIT_WAITS = Counter("waddlebot_helix_rate_limit_waits_total", "Helix calls that waited for quota",
                           ["bucket"])
RATE_LIMIT_WAIT_SECONDS = Counter("waddlebot_helix_rate_limit_wait_seconds_total",
                                  "Seconds Helix calls spent waiting for quota", ["bucket"])
RATE_LIMIT_REFUSED = Counter("waddlebot_helix_rate_limit_refused_total",
                             "Helix calls refused (503) because quota was too far away", ["bucket"])
QUOTA_REMAINING = Gauge("waddlebot_helix_ratelimit_remaining",
                        "Ratelimit-Remaining Twitch last reported", ["bucket"], multiprocess_mode="mostrecent")
BREAKER_STATE = Gauge("waddlebot_helix_breaker_state", "Helix circuit breaker: 0 closed, 1 half-open, 2 open",
                      multiprocess_mode="mostrecent")

_ENDPOINT = re.compile(r"^[a-z_]+(?:/[a-z_]+){0,2}$")


def endpoint_label(path: str) -> str:
    """The Helix path as a label; anything not shaped like a Helix endpoint is 'other' (bounded labels)."""
    return path if _ENDPOINT.match(path) else "other"
