"""Twitch failures as HTTP answers that say what to do, for the routes that call Helix."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from urllib.parse import urlencode

from py4web import request
from py4web.core import HTTP, redirect

from apps.twitch_webhooks.eventsub.helix import ScopeProblem
from modules.twitch.helix import error_message
from modules.twitch.oauth import OAuthError
from shared.fixtures import json_error
from shared.helix.client import HelixError, HelixUnavailable
from shared.registry import ModuleError, NotConfigured

#: Twitch's refusals passed on with their status; other upstream errors are 502
PASSED_STATUSES = (400, 403, 404, 409)


@contextlib.contextmanager
def twitch_errors() -> Iterator[None]:
    """Turn the failures of a Helix-backed operation into JSON errors."""
    try:
        yield
    except ScopeProblem as err:
        raise json_error(403, str(err), login_url=err.login_url, missing_scopes=err.missing_scopes) from None
    except NotConfigured as err:
        raise json_error(503, f"not configured: {err}") from None
    except HelixUnavailable as err:
        refused = json_error(503, f"Twitch is unavailable: {err}", retry_after=round(err.retry_after, 1))
        refused.headers["Retry-After"] = str(max(1, int(err.retry_after + 0.999)))
        raise refused from None
    except HelixError as err:
        status = err.status if err.status in PASSED_STATUSES else 502
        raise json_error(status, f"Twitch answered {err.status}: {error_message(err.response.body)}") from None
    except (OAuthError, ModuleError) as err:
        raise json_error(503, f"no app token from Twitch ({err}); check TWITCH_APP_ID and TWITCH_APP_SECRET") from None


def is_form() -> bool:
    """A form posted by an admin page (answered with a redirect) rather than an API call (JSON)."""
    return request.content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def body_fields() -> dict:
    """The request's JSON object or form fields; 400 when the JSON is not an object."""
    if is_form():
        return {name: request.forms.get(name) for name in request.forms}
    raw = request.body.read()
    if not raw:
        return {}
    if not request.content_type.startswith("application/json"):
        raise json_error(415, "send the body as JSON with Content-Type: application/json (or as a form)")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise json_error(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise json_error(400, "the body must be a JSON object")
    return payload


@contextlib.contextmanager
def back_to(page: str) -> Iterator[None]:
    """For forms: on an HTTP error, go back to `page` showing its message; else just run."""
    try:
        yield
    except HTTP as err:
        if not is_form():
            raise
        message = err.body.get("message", "failed") if isinstance(err.body, dict) else str(err.body)
        redirect(f"{page}?{urlencode({'error': message})}")
