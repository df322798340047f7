"""WaddleBot's own error pages: an unknown URL or an unexpected error answers a browser (Accept:
text/html) with a branded page and anyone else with the JSON error every API route uses."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import py4web.core
from py4web import request, response
from yatl.template import render

TEMPLATE = Path(__file__).parent / "templates" / "error.html"
TEXTS = {
    404: ("Page not found", "There is nothing at this address. Check it, or start again from the home page."),
    500: ("Something went wrong", "WaddleBot ran into an error it did not expect. It is logged; try again in a "
                                  "moment, and tell the operator if it keeps happening."),
}


def wants_page() -> bool:
    """A browser navigating (Accept: text/html), not a script or fetch() asking for JSON."""
    return "text/html" in request.headers.get("Accept", "")


def page(code: int, title: str, message: str, reference: str | None = None) -> str:
    """The branded error page."""
    return render(filename=str(TEMPLATE), path=str(TEMPLATE.parent), delimiters="[[ ]]",
                  context={"code": code, "title": title, "message": message, "reference": reference})


def error_page(http_code: int, button_text: str | None = None, href: str = "#", color: str | None = None,
               message: str | None = None) -> str:
    """py4web's error_page, same signature: `button_text` is the error ticket of a 500."""
    title, text = TEXTS.get(http_code, (http.client.responses.get(http_code, "Error"), message or ""))
    reference = button_text if http_code >= 500 else None
    response.status = http_code
    if wants_page():
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return page(http_code, title, text, reference)
    response.headers["Content-Type"] = "application/json"
    body = {"error": http.client.responses.get(http_code, "Error"), "status": http_code,
            "message": f"no route {request.path}" if http_code == 404 else text}
    return json.dumps({**body, **({"reference": reference} if reference else {})})


def install() -> None:
    """Replace py4web's red error pages: its 404 handler and its catch-all both call error_page."""
    py4web.core.error_page = error_page
