"""The livepulse admin page (/livepulse/admin): events, their streams and states, the YouTube
quota, public dashboard links. HTML forms; a bad form re-renders the page with a 400 and why."""

import math
import time

from py4web import action, request, response
from py4web.core import redirect

from apps.livepulse import events, quota
from apps.livepulse.access import MAX_LINK_DAYS, admin_event, public_link
from apps.livepulse.params import InputError, parse_int
from modules.youtube.data_api import MAX_IDS_PER_CALL
from shared.fixtures import Page, admin, db
from shared.settings import get_settings

ADMIN_PATH = "/livepulse/admin"


def _page(error: str | None = None, links: dict | None = None, status: int = 200) -> dict:
    settings = get_settings()
    now = time.time()
    rows = db(db.lp_event).select(orderby=~db.lp_event.id)
    streams = db(db.lp_stream).select(orderby=db.lp_stream.id)
    by_event = {row.id: [] for row in rows}
    for stream in streams:
        by_event.setdefault(stream.event_id, []).append(stream)
    youtube = sum(1 for stream in streams if stream.platform == "youtube" and stream.state != "ended")
    response.status = status
    return {"events": rows, "streams": by_event, "quota": quota.status(db, now, settings.yt_daily_quota),
            "now": now, "calls_per_poll": math.ceil(youtube / MAX_IDS_PER_CALL), "error": error,
            "links": links or {}, "settings": settings, "stream_url": events.stream_url,
            "page_title": "LivePulse admin"}


def _back(event_id: int | None = None):
    redirect(ADMIN_PATH + (f"#event-{event_id}" if event_id else ""))


@action("admin", method=["GET"])
@action.uses(Page("admin.html"), db, admin)
def admin_page():
    return _page()


@action("admin/events", method=["POST"])
@action.uses(Page("admin.html"), db, admin)
def create_event():
    try:
        event_id = events.create_event(db, request.forms.get("name"), request.forms.get("description"))
    except InputError as err:
        return _page(str(err), status=400)
    _back(event_id)


@action("admin/events/<event_id:int>", method=["POST"])
@action.uses(Page("admin.html"), db, admin)
def update_event(event_id):
    admin_event(db, event_id)
    try:
        events.update_event(db, event_id, request.forms.get("name"), request.forms.get("description"))
    except InputError as err:
        return _page(str(err), status=400)
    _back(event_id)


@action("admin/events/<event_id:int>/delete", method=["POST"])
@action.uses(db, admin)
def delete_event(event_id):
    admin_event(db, event_id)
    db(db.lp_event.id == event_id).delete()
    _back()


@action("admin/events/<event_id:int>/streams", method=["POST"])
@action.uses(Page("admin.html"), db, admin)
def add_stream(event_id):
    admin_event(db, event_id)
    try:
        events.add_stream(db, event_id, request.forms.get("stream"), request.forms.get("platform") or "auto")
    except InputError as err:
        return _page(str(err), status=400)
    except events.LookupFailed as err:
        return _page(str(err), status=503)
    _back(event_id)


@action("admin/events/<event_id:int>/streams/<stream_id:int>/delete", method=["POST"])
@action.uses(Page("admin.html"), db, admin)
def remove_stream(event_id, stream_id):
    admin_event(db, event_id)
    if not events.remove_stream(db, event_id, stream_id):
        return _page(f"event {event_id} has no stream {stream_id}", status=404)
    _back(event_id)


@action("admin/events/<event_id:int>/public-link", method=["POST"])
@action.uses(Page("admin.html"), db, admin)
def create_public_link(event_id):
    event = admin_event(db, event_id)
    try:
        days = parse_int("days", request.forms.get("days"), 30, 1, MAX_LINK_DAYS)
    except InputError as err:
        return _page(str(err), status=400)
    return _page(links={event.id: public_link(event, days)})


@action("admin/events/<event_id:int>/public-link/revoke", method=["POST"])
@action.uses(db, admin)
def revoke_public_links(event_id):
    event = admin_event(db, event_id)
    event.update_record(public_version=event.public_version + 1)
    _back(event_id)
