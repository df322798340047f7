"""Time in tests: waiting for what another thread or process does (poll, never a fixed sleep), and a
clock the test sets by hand for code that takes one."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll `condition` every 10 ms; AssertionError when it is still false after `timeout` seconds (a
    ceiling for a loaded machine, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Clock:
    """A clock that moves only when the test sets `now` (seconds)."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now
