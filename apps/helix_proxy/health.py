"""Health of the Helix proxy: the circuit breaker's state (no network)."""

from __future__ import annotations

from shared.helix.breaker import CLOSED
from shared.helix.client import get_helix_client
from shared.redis_client import get_redis
from shared.registry import Health


def check() -> Health:
    client = get_helix_client()
    breaker = client.breaker
    data = {"breaker": breaker.state, "consecutive_failures": breaker.failures,
            "store": "redis" if get_redis() is not None else "memory",
            "rate_limit_per_second": client.settings.rate_limit_requests_per_second}
    if breaker.state != CLOSED:
        return Health("degraded", f"Twitch Helix failing: circuit breaker {breaker.state.replace('_', '-')}, "
                                  f"next probe in {breaker.open_for():.0f} s", data)
    return Health("ok", "Helix reachable", data)
