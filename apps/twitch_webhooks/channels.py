"""Channels the system follows: GET/POST /twitch_webhooks/channels, POST /channels/<id> (active,
points overrides), GET /user/<user_id> (Helix user info), POST /setup/<channel_id> (the standard
EventSub set), and the admin page /twitch_webhooks/admin/channels."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from py4web import action, request, response
from py4web.core import redirect

from apps.twitch_webhooks.eventsub import store as eventsub
from apps.twitch_webhooks.eventsub.helix import callback_url, ensure_standard
from modules.twitch.eventsub import REQUIRED_SCOPES, STANDARD_TYPES
from shared.db import utcnow
from shared.fixtures import Page, admin, db, json_error
from shared.helix.client import helix_request

from .errors import back_to, body_fields, is_form, twitch_errors
from .queries import iso

PAGE = "/twitch_webhooks/admin/channels"
USER_ID = re.compile(r"^[0-9]{1,20}$")
LOGIN = re.compile(r"^[A-Za-z0-9_]{1,25}$")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")



def channel_dict(row) -> dict:
    return {"broadcaster_id": row.broadcaster_id, "login": row.login, "display_name": row.display_name,
            "active": bool(row.active), "points_overrides": row.points_overrides or {},
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def _helix_user(value: str) -> dict:
    """The Twitch user with this id (digits) or login, through the Helix pipeline; 404 if none."""
    if USER_ID.match(value):
        params = {"id": value}
    elif LOGIN.match(value):
        params = {"login": value.lower()}
    else:
        raise json_error(400, f"channel: a Twitch login or user id (got {value[:40]!r})")
    with twitch_errors():
        answer = helix_request("GET", "users", params=params)
        answer.raise_for_status()
    users = answer.json().get("data") or []
    if not users:
        raise json_error(404, f"Twitch has no user {value!r}")
    return users[0]


def _flag(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in TRUE:
        return True
    if str(value).lower() in FALSE:
        return False
    raise json_error(400, f"{name}: true or false (got {value!r})")


def _overrides(fields: dict) -> dict | None:
    """Points overrides from JSON ({"points_overrides": {type: points}}) or form fields
    (points:<type>, empty = the default); None when the request sets none."""
    if "points_overrides" in fields:
        given = fields["points_overrides"] or {}
        if not isinstance(given, dict):
            raise json_error(400, "points_overrides: a JSON object of event type → points")
    else:
        given = {name.removeprefix("points:"): value for name, value in fields.items()
                 if name.startswith("points:") and value not in ("", None)}
        if not given and not any(name.startswith("points:") for name in fields):
            return None
    result = {}
    for event_type, value in given.items():
        if event_type not in eventsub.DEFAULT_POINTS:
            raise json_error(400, f"points_overrides: {event_type!r} is not an activity type "
                                  f"({', '.join(eventsub.DEFAULT_POINTS)})")
        points = _points(value)
        if points is None:
            raise json_error(400, f"points_overrides: the points of {event_type} must be a whole number")
        result[event_type] = points
    return result


def _points(value) -> int | None:
    """Points given as a JSON integer or as form text."""
    if isinstance(value, str):
        return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value.strip()) else None
    return eventsub.points_value(value)


def _save_channel(user: dict, active: bool) -> tuple[object, bool]:
    table, now = db.twitch_channel, utcnow()
    row = db(table.broadcaster_id == user["id"]).select(limitby=(0, 1)).first()
    values = {"login": user["login"], "display_name": user.get("display_name"), "active": active, "updated_at": now}
    if row is None:
        table.insert(broadcaster_id=user["id"], created_at=now, **values)
    else:
        row.update_record(**values)
    eventsub.forget_channel_settings(user["id"])
    return db(table.broadcaster_id == user["id"]).select(limitby=(0, 1)).first(), row is None


@action("channels", method=["GET"])
@action.uses(db, admin)
def list_channels():
    return {"data": [channel_dict(row) for row in db(db.twitch_channel).select(orderby=db.twitch_channel.login)]}


@action("channels", method=["POST"])
@action.uses(db, admin)
def add_channel():
    """Follow a channel given by login or id ({"channel": "…"} or login/broadcaster_id), resolved
    through Helix users; "active" (default true) activates or deactivates it."""
    with back_to(PAGE):
        fields = body_fields()
        value = str(fields.get("channel") or fields.get("login") or fields.get("broadcaster_id") or "").strip()
        if not value:
            raise json_error(400, "channel: give a Twitch login or user id")
        active = _flag("active", fields.get("active", True))
        row, created = _save_channel(_helix_user(value), active)
    if is_form():
        redirect(f"{PAGE}?{urlencode({'notice': f'{row.login} added' if created else f'{row.login} updated'})}")
    response.status = 201 if created else 200
    return {"data": channel_dict(row), "created": created}


@action("channels/<broadcaster_id>", method=["POST"])
@action.uses(db, admin)
def update_channel(broadcaster_id):
    """Activate/deactivate a followed channel ("active") or set its points overrides."""
    with back_to(PAGE):
        row = db(db.twitch_channel.broadcaster_id == broadcaster_id).select(limitby=(0, 1)).first()
        if row is None:
            raise json_error(404, f"channel {broadcaster_id} is not followed: add it with POST "
                                  "/twitch_webhooks/channels")
        fields = body_fields()
        changes = {"updated_at": utcnow()}
        if "active" in fields:
            changes["active"] = _flag("active", fields["active"])
        overrides = _overrides(fields)
        if overrides is not None:
            changes["points_overrides"] = overrides
        row.update_record(**changes)
        eventsub.forget_channel_settings(broadcaster_id)
    if is_form():
        redirect(f"{PAGE}?{urlencode({'notice': f'{row.login} saved'})}")
    return {"data": channel_dict(row)}


@action("user/<user_id>", method=["GET"])
@action.uses(db, admin)
def user_info(user_id):
    """Helix user info of a Twitch user id."""
    if not USER_ID.match(user_id):
        raise json_error(400, "user_id: a Twitch user id (digits)")
    return {"data": _helix_user(user_id)}


@action("setup/<channel_id>", method=["POST"])
@action.uses(db, admin)
def setup(channel_id):
    """Make sure the channel has the standard EventSub subscriptions: {reused, created, failed}."""
    with back_to(PAGE):
        if not USER_ID.match(channel_id):
            raise json_error(400, "channel_id: a Twitch broadcaster id (digits)")
        with twitch_errors():
            report = ensure_standard(channel_id).as_dict()
    if is_form():
        counts = ", ".join(f"{len(items)} {name}" for name, items in report.items())
        redirect(f"{PAGE}?{urlencode({'notice': f'setup of {channel_id}: {counts}'})}")
    if report["failed"] and not (report["created"] or report["reused"]):
        response.status = 502
    return report


@action("admin/channels", method=["GET"])
@action.uses(Page("channels.html"), db, admin)
def channels_page():
    rows = db(db.twitch_channel).select(orderby=db.twitch_channel.login)
    return {"title": "Channels", "channels": [channel_dict(row) for row in rows], "callback": callback_url(),
            "points": eventsub.DEFAULT_POINTS, "global_points": eventsub.global_overrides(),
            "standard": STANDARD_TYPES, "scopes": sorted(set(REQUIRED_SCOPES.values())),
            "notice": request.query.get("notice"), "error": request.query.get("error")}
