"""The Twitch subscriptions behind the interests: one per subscription key (bot + type + version +
condition), created on the bot's EventSub WebSocket session, or an enabled subscription found at
Twitch reused (a webhook subscription of the receiver serves the hub as well).

`reconcile` runs on every new session: it lists Twitch's subscriptions (every page, with the bot's
token), reuses enabled matches, creates the missing ones, deletes the orphans we created and logs
a summary. `sync` runs on every tick of the session: it acts on interests added or deleted since,
from what the database knows, so it costs no Helix call when nothing changed."""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass, field

from apps.twitch_webhooks.eventsub.store import LIVE_STATUSES, mark_revoked, normalize_condition, upsert_subscription
from shared import tokens
from shared.db import get_db, transaction, utcnow
from shared.helix.client import HelixError, HelixResponse, HelixUnavailable, helix_paginate, helix_request

log = logging.getLogger(__name__)
SUBSCRIPTIONS = "eventsub/subscriptions"
RETRY_FAILED = datetime.timedelta(seconds=60)
JSON = {"Content-Type": "application/json"}


@dataclass
class Summary:
    reused: int = 0
    created: int = 0
    deleted: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.reused} reused, {self.created} created, {self.deleted} deleted, {self.failed} failed"


@dataclass(frozen=True)
class Wanted:
    key: str
    event_type: str
    version: str
    condition: dict


@dataclass(frozen=True)
class Known:
    """A Twitch subscription object and whether we created it."""

    sub: dict
    ours: bool

    @property
    def id(self) -> str:
        return self.sub["id"]

    @property
    def method(self) -> str:
        return (self.sub.get("transport") or {}).get("method", "")

    def matches(self, want: Wanted) -> bool:
        sub = self.sub
        return (sub.get("type") == want.event_type and str(sub.get("version")) == want.version
                and normalize_condition(sub.get("condition")) == normalize_condition(want.condition))

    def usable(self, session_id: str) -> bool:
        """Delivers events to us: a live webhook subscription, or an enabled one on our session."""
        status = self.sub.get("status")
        if self.method == "webhook":
            return status in LIVE_STATUSES
        return status == "enabled" and (self.sub.get("transport") or {}).get("session_id") == session_id


@dataclass
class Plan:
    reuse: dict[str, Known] = field(default_factory=dict)
    create: list[Wanted] = field(default_factory=list)
    delete: list[Known] = field(default_factory=list)


def make_plan(wanted: dict[str, Wanted], candidates: list[Known], deletable: list[Known], session_id: str,
              linked: dict[str, str]) -> Plan:
    """Reuse a usable match of each wanted key (the one linked already first), create the others,
    delete the deletable subscriptions nothing reuses."""
    plan = Plan()
    for key, want in wanted.items():
        usable = [known for known in candidates if known.matches(want) and known.usable(session_id)]
        if usable:
            plan.reuse[key] = min(usable, key=lambda known: known.id != linked.get(key))
        else:
            plan.create.append(want)
    kept = {known.id for known in plan.reuse.values()}
    plan.delete = [known for known in deletable if known.id not in kept]
    return plan


# --- what the database knows ---------------------------------------------------------------------
def wanted_subscriptions(db, bot_name: str) -> dict[str, Wanted]:
    table = db.hub_interest
    rows = db(table.bot_name == bot_name).select(table.sub_key, table.event_type, table.version, table.condition,
                                                  orderby=table.id)
    return {row.sub_key: Wanted(row.sub_key, row.event_type, row.version, row.condition) for row in rows}


def _as_twitch(row) -> dict:
    return {"id": row.twitch_id, "type": row.type, "version": row.version, "condition": row.condition or {},
            "status": row.status, "cost": row.cost,
            "transport": {"method": row.transport_method, "callback": row.callback, "session_id": row.session_id}}


def _known_rows(db, query) -> list[Known]:
    return [Known(_as_twitch(row), bool(row.created_by_us)) for row in db(query).select(db.eventsub_subscription.ALL)]


def _links(db, bot_name: str) -> dict[str, object]:
    return {row.sub_key: row for row in db(db.hub_subscription.bot_name == bot_name).select()}


# --- Helix with the bot's token ------------------------------------------------------------------
def _bot_call(bot_name: str, method: str, params: dict | None = None, body: dict | None = None) -> HelixResponse:
    """One eventsub/subscriptions call with the bot's user token (WebSocket subscriptions need
    one), refreshed once when Twitch answers 401."""
    data = json.dumps(body).encode() if body is not None else None
    response = helix_request(method, SUBSCRIPTIONS, params=params, body=data, headers=JSON,
                             user_token=tokens.get_bot(bot_name).token)
    if response.status == 401:
        response = helix_request(method, SUBSCRIPTIONS, params=params, body=data, headers=JSON,
                                 user_token=tokens.refresh_bot(bot_name).token)
    return response


def list_twitch(bot_name: str, params: dict | None = None) -> list[dict]:
    """Every subscription Twitch lists for the bot's token (all pages)."""
    try:
        return list(helix_paginate(SUBSCRIPTIONS, params=params, user_token=tokens.get_bot(bot_name).token))
    except HelixError as err:
        if err.status != 401:
            raise
    return list(helix_paginate(SUBSCRIPTIONS, params=params, user_token=tokens.refresh_bot(bot_name).token))


def _log_refusal(want: Wanted, response: HelixResponse) -> None:
    message = response.json().get("message", "") if response.body else ""
    if response.status == 429:
        log.error("EventSub limit reached: Twitch refused %s v%s %s (429: %s). Twitch allows 3 WebSocket "
                  "connections per user token and a maximum total subscription cost.", want.event_type, want.version,
                  want.condition, message)
    else:
        log.warning("Twitch refused the subscription %s v%s %s (%s: %s)", want.event_type, want.version,
                    want.condition, response.status, message)


def _create(bot_name: str, want: Wanted, session_id: str) -> tuple[dict | None, str]:
    """(Twitch's subscription, "") or (None, why it failed)."""
    body = {"type": want.event_type, "version": want.version, "condition": want.condition,
            "transport": {"method": "websocket", "session_id": session_id}}
    response = _bot_call(bot_name, "POST", body=body)
    if response.status == 409:  # it exists on this session already: find it
        existing = [Known(sub, True) for sub in list_twitch(bot_name, {"type": want.event_type})]
        found = next((known.sub for known in existing if known.matches(want) and known.usable(session_id)), None)
        return (found, "") if found else (None, "Twitch answered 409 but lists no such subscription")
    if not response.ok:
        _log_refusal(want, response)
        return None, f"{response.status}: {response.json().get('message', '') if response.body else ''}"[:500]
    payload = response.json()
    total, maximum = payload.get("total_cost"), payload.get("max_total_cost")
    if isinstance(total, int) and isinstance(maximum, int) and total >= maximum:
        log.error("EventSub limit reached: the subscriptions of bot %s cost %s of at most %s; Twitch will refuse "
                  "more", bot_name, total, maximum)
    return payload["data"][0], ""


# --- applying a plan -----------------------------------------------------------------------------
def _link(db, bot_name: str, want: Wanted, sub: dict | None, ours: bool, error: str = "") -> None:
    sub = sub or {}
    transport = sub.get("transport") or {}
    values = {"bot_name": bot_name, "event_type": want.event_type, "version": want.version,
              "condition": want.condition, "twitch_id": sub.get("id"), "transport_method": transport.get("method"),
              "session_id": transport.get("session_id"), "status": "failed" if error else "enabled",
              "created_by_hub": ours, "last_error": error or None, "updated_at": utcnow()}
    db.hub_subscription.update_or_insert(db.hub_subscription.sub_key == want.key, sub_key=want.key, **values)


def _retry_later(link) -> bool:
    return link is not None and link.status == "failed" and link.updated_at > utcnow() - RETRY_FAILED


def _apply(bot_name: str, session_id: str, wanted: dict[str, Wanted], plan: Plan, links: dict, retry_all: bool,
           summary: Summary) -> None:
    db = get_db()
    changed = [(key, known) for key, known in plan.reuse.items()
               if links.get(key) is None or links[key].twitch_id != known.id or links[key].status != "enabled"]
    if changed:
        with transaction(db):
            for key, known in changed:
                _link(db, bot_name, wanted[key], known.sub, known.ours and known.method == "websocket")
    summary.reused += len(plan.reuse)
    for want in plan.create:
        if not retry_all and _retry_later(links.get(want.key)):
            continue
        try:
            sub, error = _create(bot_name, want, session_id)
        except HelixUnavailable as err:
            sub, error = None, f"Helix unavailable: {err}"
        with transaction(db):
            if sub is not None:
                upsert_subscription(db, sub, created_by_us=True)
            _link(db, bot_name, want, sub, sub is not None, error)
        summary.created += sub is not None
        summary.failed += sub is None
    for known in plan.delete:
        _delete(bot_name, known, summary)
    stale = [key for key in links if key not in wanted]
    if stale:  # their last interest is gone
        with transaction(db):
            db(db.hub_subscription.sub_key.belongs(stale)).delete()


def _delete(bot_name: str, known: Known, summary: Summary) -> None:
    try:
        response = _bot_call(bot_name, "DELETE", params={"id": known.id})
    except HelixUnavailable as err:
        log.warning("could not delete subscription %s: %s", known.id, err)
        summary.failed += 1
        return
    if response.status not in (204, 404):
        log.warning("Twitch refused to delete subscription %s (%s)", known.id, response.status)
        summary.failed += 1
        return
    with transaction(get_db()) as db:
        db(db.eventsub_subscription.twitch_id == known.id).delete()
    summary.deleted += 1


# --- the two entry points ------------------------------------------------------------------------
def reconcile(bot_name: str, session_id: str) -> Summary:
    """After a new session: every subscription the bot's interests need, from Twitch's list."""
    listed = list_twitch(bot_name)
    db = get_db()
    with transaction(db):
        for sub in listed:
            upsert_subscription(db, sub, created_by_us=False)
        table = db.eventsub_subscription
        ours = {row.twitch_id for row in db(table.created_by_us == True).select(table.twitch_id)}  # noqa: E712
        webhooks = _known_rows(db, table.transport_method == "webhook")
        wanted, links = wanted_subscriptions(db, bot_name), _links(db, bot_name)
    known = [Known(sub, sub["id"] in ours) for sub in listed]
    deletable = [item for item in known if item.method == "websocket" and item.ours]
    plan = make_plan(wanted, known + webhooks, deletable, session_id,
                     {key: link.twitch_id for key, link in links.items()})
    summary = Summary()
    _apply(bot_name, session_id, wanted, plan, links, retry_all=True, summary=summary)
    log.info("EventSub subscriptions of bot %s reconciled on session %s: %s", bot_name, session_id, summary)
    return summary


def sync(bot_name: str, session_id: str) -> Summary:
    """Between reconciliations: create what new interests need, delete what deleted ones left."""
    db = get_db()
    with transaction(db):
        wanted, links = wanted_subscriptions(db, bot_name), _links(db, bot_name)
        table = db.eventsub_subscription
        candidates = _known_rows(db, (table.transport_method == "webhook") | (table.session_id == session_id))
        linked_ids = [link.twitch_id for key, link in links.items() if link.twitch_id and link.created_by_hub]
        deletable = [known for known in _known_rows(db, table.twitch_id.belongs(linked_ids))
                     if known.method == "websocket"] if linked_ids else []
    plan = make_plan(wanted, candidates, deletable, session_id, {key: link.twitch_id for key, link in links.items()})
    summary = Summary()
    _apply(bot_name, session_id, wanted, plan, links, retry_all=False, summary=summary)
    if summary.created or summary.deleted or summary.failed:
        log.info("EventSub subscriptions of bot %s updated: %s", bot_name, summary)
    return summary


def carry_over(bot_name: str, old_session: str | None, new_session: str) -> None:
    """session_reconnect: the subscriptions moved with the session (Twitch keeps them)."""
    if not old_session or old_session == new_session:
        return
    with transaction(get_db()) as db:
        db(db.eventsub_subscription.session_id == old_session).update(session_id=new_session, updated_at=utcnow())
        db((db.hub_subscription.bot_name == bot_name) & (db.hub_subscription.session_id == old_session)).update(
            session_id=new_session, updated_at=utcnow())


def revoked(subscription: dict) -> None:
    """Twitch revoked a subscription (over the WebSocket): ours shows the reason."""
    with transaction(get_db()) as db:
        mark_revoked(db, subscription)
        db(db.hub_subscription.twitch_id == subscription.get("id")).update(
            status="revoked", last_error=f"revoked by Twitch: {subscription.get('status')}", updated_at=utcnow())

