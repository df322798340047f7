"""Who may read an event: the admin (core admin auth), or anyone holding the event's public
read-only link — a token signed with AUTH_SECRET for purpose "livepulse-public", bound to the
event id and to the event's public_version (bumping it revokes every link given so far)."""

from __future__ import annotations

from urllib.parse import quote

from py4web import request
from py4web.core import redirect

from shared.crypto import TokenError, sign_token, verify_token
from shared.fixtures import is_admin, json_error, wants_html
from shared.settings import get_settings

PURPOSE = "livepulse-public"
MAX_LINK_DAYS = 365


def public_link(event, days: int) -> str:
    """The read-only dashboard URL of this event, valid for `days` days."""
    token = sign_token(PURPOSE, days * 86400, event=int(event.id), v=int(event.public_version))
    return f"{get_settings().public_url}/livepulse/event/{event.id}/dashboard?token={token}"


def token_grants(token: str | None, event) -> bool:
    if not token or event is None:
        return False
    try:
        claims = verify_token(token, PURPOSE)
    except TokenError:
        return False
    return claims.get("event") == int(event.id) and claims.get("v") == int(event.public_version)


def readable_event(db, event_id: int):
    """The event, if the admin or a valid public token for it asks; else 401 (or the login page
    for a browser), and 404 for an admin asking for an unknown event."""
    event = db.lp_event(event_id)
    if is_admin():
        if event is None:
            raise json_error(404, f"no event {event_id}")
        return event
    if token_grants(request.query.get("token"), event):
        return event
    if wants_html() and not request.query.get("token"):
        target = request.path + (f"?{request.query_string}" if request.query_string else "")
        redirect(f"/login?next={quote(target, safe='')}")
    raise json_error(401, "admin authentication or a valid public link (token) for this event is required")


def admin_event(db, event_id: int):
    """The event for an admin route (the admin fixture has run), or 404."""
    event = db.lp_event(event_id)
    if event is None:
        raise json_error(404, f"no event {event_id}")
    return event
