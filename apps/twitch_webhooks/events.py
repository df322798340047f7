"""Stored events and activities: GET /twitch_webhooks/events and /activities (JSON) and the admin
pages /twitch_webhooks/admin/events and /admin/activities, with the same filters and cursors."""

from __future__ import annotations

from urllib.parse import urlencode

from py4web import action, request, response

from shared.fixtures import Page, admin, db, json_error

from . import queries

EVENT_COLUMNS = (("#", "id"), ("Received (UTC)", "received_at"), ("Type", "type"), ("Channel", "channel_id"),
                 ("User", "user_id"), ("Transport", "transport"), ("Message id", "message_id"))
ACTIVITY_COLUMNS = (("#", "id"), ("When (UTC)", "created_at"), ("Type", "type"), ("Channel", "channel_login"),
                    ("User", "user_login"), ("Points", "points"), ("Source", "source"))
LISTINGS = {
    "events": ("EventSub events", queries.list_events, EVENT_COLUMNS),
    "activities": ("Activities", queries.list_activities, ACTIVITY_COLUMNS),
}


def _api(kind: str) -> dict:
    _, lister, _ = LISTINGS[kind]
    try:
        rows, cursor = lister(db, queries.parse_filters(request.query))
    except queries.FilterError as err:
        raise json_error(400, str(err)) from None
    return {"data": rows, "next_cursor": cursor}


def _page(kind: str) -> dict:
    title, lister, columns = LISTINGS[kind]
    values = {name: request.query.get(name) or "" for name in (*queries.FILTER_NAMES, "limit")}
    try:
        rows, cursor = lister(db, queries.parse_filters(request.query))
    except queries.FilterError as err:
        response.status = 400
        rows, cursor, error = [], None, str(err)
    else:
        error = None
    kept = {name: value for name, value in values.items() if value}
    next_url = f"{request.path}?{urlencode({**kept, 'cursor': cursor})}" if cursor else None
    return {"title": title, "kind": kind, "columns": columns, "rows": rows, "values": values, "error": error,
            "next_url": next_url, "first_url": request.path + (f"?{urlencode(kept)}" if kept else ""),
            "path": request.path, "paged": bool(request.query.get("cursor"))}


@action("events", method=["GET"])
@action.uses(db, admin)
def events():
    """Stored events, newest first (?type, channel, user, since, until, cursor, limit)."""
    return _api("events")


@action("activities", method=["GET"])
@action.uses(db, admin)
def activities():
    """Activities with their points, newest first (same filters as /events)."""
    return _api("activities")


@action("admin/events", method=["GET"])
@action.uses(Page("listing.html"), db, admin)
def events_page():
    return _page("events")


@action("admin/activities", method=["GET"])
@action.uses(Page("listing.html"), db, admin)
def activities_page():
    return _page("activities")
