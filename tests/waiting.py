"""Waiting in tests for something another thread or process does: poll, never a fixed sleep."""

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
