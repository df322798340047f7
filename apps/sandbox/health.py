"""The sandbox module: ready to start (outside the sandbox), else healthy when its fakes answer."""

from __future__ import annotations

from apps.sandbox.status import SandboxUnavailable, fetch_status
from shared.registry import Health
from shared.settings import get_settings


def check() -> Health:
    if not get_settings().sandbox_url:
        return Health("ok", "not running: `waddlebot sandbox` (make demo) tries everything against local fakes")
    try:
        status = fetch_status()
    except SandboxUnavailable as err:
        return Health("down", str(err))
    scenario = status["scenario"]
    return Health("ok", f"scenario: {scenario['played']}/{scenario['entries']} entries played")
