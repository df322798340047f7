"""EventSub subscriptions: GET (ours and Twitch's, with status and cost), POST (create a webhook
subscription), DELETE /twitch_webhooks/subscriptions, and the admin overview page."""

from __future__ import annotations

import re

from py4web import action, request, response
from py4web.core import HTTP

from apps.twitch_webhooks.eventsub.helix import callback_url, check_scopes, create, delete, list_twitch, sync_listed
from shared.fixtures import Page, admin, db, json_error
from shared.settings import get_settings

from .errors import body_fields, twitch_errors
from .queries import iso

TYPE = re.compile(r"^[a-z0-9_.]{1,100}$")
VERSION = re.compile(r"^[a-z0-9]{1,16}$")
TWITCH_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")



def subscription_dict(row) -> dict:
    """Our view of a subscription; never its secret (only whether it has its own)."""
    return {"id": row.twitch_id, "type": row.type, "version": row.version, "condition": row.condition or {},
            "transport": {"method": row.transport_method, "callback": row.callback, "session_id": row.session_id},
            "status": row.status, "cost": row.cost, "created_by_us": bool(row.created_by_us),
            "revoked_reason": row.revoked_reason, "own_secret": bool(row.secret_encrypted),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def _ours() -> list[dict]:
    table = db.eventsub_subscription
    return [subscription_dict(row) for row in db(table).select(orderby=table.type | table.id)]


@action("subscriptions", method=["GET"])
@action.uses(db, admin)
def list_subscriptions():
    """Twitch's subscriptions (every page; our rows updated with their status and cost) and ours.
    ?twitch=0 skips the call to Twitch."""
    twitch, error = [], None
    if request.query.get("twitch") != "0":
        try:
            with twitch_errors():
                twitch = list_twitch()
                sync_listed(twitch)
        except HTTP as err:  # ours are still worth showing when Twitch cannot be asked
            error = err.body.get("message") if isinstance(err.body, dict) else str(err.body)
    total = sum(int(item.get("cost") or 0) for item in twitch)
    return {"ours": _ours(), "twitch": twitch, "twitch_total_cost": total, "twitch_error": error}


def _condition(value) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise json_error(400, 'condition: a JSON object such as {"broadcaster_user_id": "1337"}')
    if not all(isinstance(item, str) and item for item in value.values()):
        raise json_error(400, "condition: every value must be a non-empty string (Twitch ids are strings)")
    return dict(value)


@action("subscriptions", method=["POST"])
@action.uses(db, admin)
def create_subscription():
    """Create a webhook subscription: {"type", "version", "condition", "secret" (optional: its own
    secret, else TWITCH_WEBHOOK_SECRET)}."""
    fields = body_fields()
    event_type, version = str(fields.get("type") or ""), str(fields.get("version") or "1")
    if not TYPE.match(event_type):
        raise json_error(400, "type: an EventSub subscription type such as channel.follow")
    if not VERSION.match(version):
        raise json_error(400, "version: such as 1, 2 or beta")
    condition = _condition(fields.get("condition"))
    secret = fields.get("secret")
    if secret is not None and not (isinstance(secret, str) and 10 <= len(secret) <= 100):
        raise json_error(400, "secret: 10 to 100 characters")
    with twitch_errors():
        broadcaster = condition.get("broadcaster_user_id")
        if broadcaster:
            check_scopes(broadcaster, [event_type])
        created = create(event_type, version, condition, secret)
    response.status = 201
    return {"data": created}


@action("subscriptions", method=["DELETE"])
@action.uses(db, admin)
def delete_subscription():
    """Delete a subscription (?id=…) at Twitch and here."""
    twitch_id = request.query.get("id") or str(body_fields().get("id") or "")
    if not TWITCH_ID.match(twitch_id):
        raise json_error(400, "id: the subscription id (?id=…)")
    with twitch_errors():
        known = delete(twitch_id)
    if not known:
        raise json_error(404, f"no subscription {twitch_id} at Twitch or here")
    return {"deleted": twitch_id}


@action("admin", method=["GET"])
@action.uses(Page("admin.html"), db, admin)
def overview():
    """The callback URL to give Twitch and every subscription we know, revoked ones with Twitch's reason."""
    settings = get_settings()
    ours = _ours()
    counts: dict[str, int] = {}
    for item in ours:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return {"title": "Twitch EventSub", "callback": callback_url(), "secret_set": bool(settings.twitch_webhook_secret),
            "https": callback_url().startswith("https://"), "subscriptions": ours, "counts": counts,
            "revoked": [item for item in ours if item["status"] == "revoked"],
            "events": db(db.eventsub_event).count()}
