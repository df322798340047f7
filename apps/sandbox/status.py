"""What the sandbox's fakes report (GET SANDBOX_URL/_sandbox/status), for the page and health."""

from __future__ import annotations

import requests

from shared.settings import get_settings


class SandboxUnavailable(Exception):
    """Not running in the sandbox, or its fakes do not answer."""


def fetch_status() -> dict:
    url = get_settings().sandbox_url
    if not url:
        raise SandboxUnavailable("not running in the sandbox: start it with `waddlebot sandbox`")
    try:
        response = requests.get(f"{url}/_sandbox/status", timeout=3)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as err:
        raise SandboxUnavailable(f"the sandbox's fakes at {url} do not answer ({err.__class__.__name__})") from None
