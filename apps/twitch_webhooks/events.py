"""Stored events and activities: GET /twitch_webhooks/events and /activities (JSON) and the admin
pages /twitch_webhooks/admin/events and /admin/activities, with the same filters and cursors."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from py4web import action, request, response

from modules.twitch import eventsub as wire
from shared.fixtures import Page, admin, db, json_error

from . import queries

EVENT_COLUMNS = (("#", "id"), ("Received", "received_at"), ("Type", "type"), ("Channel", "channel"),
                 ("User", "user"), ("Transport", "transport"))
ACTIVITY_COLUMNS = (("#", "id"), ("When", "created_at"), ("Type", "type"), ("Channel", "channel"),
                    ("User", "user"), ("Points", "points"), ("Source", "source"))
TIME_KEYS = ("received_at", "created_at")
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


def _person(event: dict, prefix: str) -> str | None:
    return event.get(f"{prefix}name") or event.get(f"{prefix}login")


def _known_subscriptions(rows: list[dict]) -> set[str]:
    """Which of these rows' subscription ids are subscriptions this system made or found at Twitch."""
    ids = {row["subscription_id"] for row in rows if row["subscription_id"]}
    if not ids:
        return set()
    ours = db(db.eventsub_subscription.twitch_id.belongs(ids)).select(db.eventsub_subscription.twitch_id)
    hub = db(db.hub_subscription.twitch_id.belongs(ids)).select(db.hub_subscription.twitch_id)
    return {row.twitch_id for row in ours} | {row.twitch_id for row in hub}


def _event_rows(rows: list[dict]) -> list[dict]:
    """Events as the page shows them: names from the payload, the payload itself, and `test` for an
    event of a subscription this system does not know (the simulator's, `waddlebot event trigger`)."""
    known = _known_subscriptions(rows)
    shown = []
    for row in rows:
        event = row["event"] or {}
        anonymous = event.get("is_anonymous") is True
        shown.append({**row, "channel": _person(event, "broadcaster_user_") or _person(event, "to_broadcaster_user_")
                      or row["channel_id"],
                      "user": "anonymous" if anonymous else (_person(event, "user_")
                                                             or _person(event, "from_broadcaster_user_")
                                                             or row["user_id"]),
                      "test": row["subscription_id"] not in known,
                      "payload": json.dumps(event, indent=2, sort_keys=True)})
    return shown


def _activity_rows(rows: list[dict]) -> list[dict]:
    """Activities as the page shows them; `test` when the EventSub event behind one is a test event."""
    message_ids = {row["source_id"] for row in rows if row["source"] == "eventsub" and row["source_id"]}
    table = db.eventsub_event
    found = db(table.message_id.belongs(message_ids)).select(table.message_id, table.subscription_id) \
        if message_ids else []
    events = [{"message_id": row.message_id, "subscription_id": row.subscription_id} for row in found]
    known = _known_subscriptions(events)
    tests = {event["message_id"] for event in events if event["subscription_id"] not in known}
    return [{**row, "channel": row["channel_login"] or row["channel_id"],
             "user": row["user_name"] or row["user_login"] or row["user_id"] or "anonymous",
             "test": row["source"] == "eventsub" and row["source_id"] in tests, "payload": None} for row in rows]


def _types(kind: str, chosen: str) -> list[str]:
    """The type picker's choices: the standard EventSub types and those stored."""
    if kind == "events":
        stored = db(db.eventsub_event).select(db.eventsub_event.event_type, distinct=True)
        found = {name for name, _ in wire.STANDARD_TYPES} | {row.event_type for row in stored}
    else:
        found = {row.activity_type for row in db(db.activity).select(db.activity.activity_type, distinct=True)}
    return sorted(found | ({chosen} if chosen else set()))


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
    paged = bool(request.query.get("cursor"))
    watch = {name: value for name, value in kept.items() if name != "limit"}
    return {"title": title, "page_title": title, "kind": kind, "columns": columns, "time_keys": TIME_KEYS,
            "rows": (_event_rows if kind == "events" else _activity_rows)(rows), "values": values,
            "types": _types(kind, values["type"]), "error": error, "next_url": next_url,
            "first_url": request.path + (f"?{urlencode(kept)}" if kept else ""), "path": request.path,
            "paged": paged,
            "watch_url": None if paged or error else f"/twitch_webhooks/{kind}?{urlencode({**watch, 'limit': 1})}"}


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
