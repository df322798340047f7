"""The sandbox module is healthy when its fakes answer."""

from __future__ import annotations

from apps.sandbox.status import SandboxUnavailable, fetch_status
from shared.registry import Health


def check() -> Health:
    try:
        status = fetch_status()
    except SandboxUnavailable as err:
        return Health("down", str(err))
    scenario = status["scenario"]
    return Health("ok", f"scenario: {scenario['played']}/{scenario['entries']} entries played")
