"""The Sandbox page: the scenario's progress and what the fake reputation, context and gateway
APIs received (JSON at /sandbox/status for the page's refresh)."""

from __future__ import annotations

from py4web import action, response

from apps.sandbox.status import SandboxUnavailable, fetch_status
from shared.fixtures import Page, admin


def _view() -> dict:
    try:
        return {"status": fetch_status(), "error": None}
    except SandboxUnavailable as err:
        return {"status": None, "error": str(err)}


@action("admin", method=["GET"])
@action.uses(Page("sandbox.html"), admin)
def sandbox_page():
    return {"page_title": "Sandbox", **_view()}


@action("status", method=["GET"])
@action.uses(admin)
def sandbox_status():
    view = _view()
    if view["error"]:
        response.status = 503
        return {"error": view["error"]}
    return view["status"]
