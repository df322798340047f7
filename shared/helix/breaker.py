"""A circuit breaker: after `threshold` consecutive failures, calls fail fast for `cooldown` seconds;
then one probe goes through (half-open) and its outcome closes or reopens the breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shared.helix.metrics import BREAKER_STATE

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
_GAUGE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
PROBE_RETRY_AFTER = 1.0  # what callers are told while the one probe is in flight


class CircuitOpen(Exception):
    """The breaker refused a call; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float):
        super().__init__(f"circuit breaker open, retry in {retry_after:.1f} s")
        self.retry_after = retry_after


class CircuitBreaker:
    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.state = CLOSED
        self.failures = 0
        self.opened_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Allow a call or raise CircuitOpen; once the cooldown is over the first caller is the probe."""
        with self._lock:
            if self.state == CLOSED:
                return
            now = self.clock()
            if self.state == OPEN and now >= self.opened_until:
                self._set(HALF_OPEN)
                return
            raise CircuitOpen(self.opened_until - now if self.state == OPEN else PROBE_RETRY_AFTER)

    def release(self) -> None:
        """The acquired call never reached upstream: let the next caller probe instead."""
        with self._lock:
            if self.state == HALF_OPEN:
                self.opened_until = self.clock()
                self._set(OPEN)

    def open_for(self) -> float:
        """Seconds left before the open breaker lets a probe through (0 unless open)."""
        with self._lock:
            return max(0.0, self.opened_until - self.clock()) if self.state == OPEN else 0.0

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self._set(CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.state == HALF_OPEN or self.failures >= self.threshold:
                self.opened_until = self.clock() + self.cooldown
                self._set(OPEN)

    def _set(self, state: str) -> None:
        self.state = state
        BREAKER_STATE.set(_GAUGE[state])
