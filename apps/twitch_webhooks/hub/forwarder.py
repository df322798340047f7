"""Forwarding stored events to the services interested in them.

`EventFeed` reads new `eventsub_event` rows by id; `InterestRegistry` (in memory, reloaded from the
database) says which interests each Twitch subscription serves. The hub WebSocket service pushes
each event to the connected services; the webhook forwarder (a singleton with a durable cursor)
queues one signed outbox delivery per webhook interest, in the same transaction as its cursor."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from apps.twitch_webhooks.hub.accounts import current_versions
from apps.twitch_webhooks.hub.server import HubServer
from apps.twitch_webhooks.hub.service import report_connections
from apps.twitch_webhooks.hub.webhooks import KIND
from shared.crypto import digest
from shared.db import get_db, transaction, utcnow
from shared.feed import RowFeed
from shared.outbox import enqueue

UNKNOWN_RELOAD_SECONDS = 0.2  # at most this often for events of subscriptions not in the registry


def event_message(row) -> dict:
    """What a service receives: {id, type, version, event, received_at}."""
    return {"id": row.message_id, "type": row.event_type, "version": row.event_version, "event": row.event,
            "received_at": row.received_at.isoformat() + "Z"}


class EventFeed(RowFeed):
    """New eventsub_event rows in id order (see RowFeed)."""

    table = "eventsub_event"


@dataclass(frozen=True)
class Target:
    interest_id: str
    account_id: int
    transport: str
    webhook_url: str | None


class InterestRegistry:
    """Twitch subscription id → the interests it serves, and each account's secret version."""

    def __init__(self):
        self.by_subscription: dict[str, list[Target]] = {}
        self.versions: dict[int, int] = {}
        self.loaded_at = float("-inf")

    def load(self, db) -> None:
        targets: dict[str, list[Target]] = defaultdict(list)
        for row in db(db.hub_interest).select(orderby=db.hub_interest.id):
            targets[row.sub_key].append(Target(row.interest_id, row.account_id, row.transport, row.webhook_url))
        by_subscription: dict[str, list[Target]] = defaultdict(list)
        table = db.hub_subscription
        for row in db(table.twitch_id != None).select(table.sub_key, table.twitch_id):  # noqa: E711
            by_subscription[row.twitch_id].extend(targets.get(row.sub_key, ()))
        self.by_subscription = dict(by_subscription)
        self.versions = current_versions(db)
        self.loaded_at = time.monotonic()

    def targets(self, subscription_id: str | None) -> list[Target]:
        return self.by_subscription.get(subscription_id or "", [])

    def refresh(self, db, rows: list, max_age: float) -> None:
        """Reload when older than max_age, or when an event comes from a subscription not known yet
        (created a moment ago)."""
        age = time.monotonic() - self.loaded_at
        unknown = any(row.subscription_id not in self.by_subscription for row in rows)
        if age > max_age or (unknown and age > UNKNOWN_RELOAD_SECONDS):
            self.load(db)


def websocket_deliveries(registry: InterestRegistry, rows: list) -> list[tuple[int, str]]:
    """(account id, JSON text) for each connected-service interest: one per account and event."""
    deliveries = []
    for row in rows:
        accounts = {target.account_id for target in registry.targets(row.subscription_id)
                    if target.transport == "websocket"}
        if accounts:
            text = json.dumps(event_message(row), separators=(",", ":"))
            deliveries.extend((account_id, text) for account_id in sorted(accounts))
    return deliveries


def enqueue_webhooks(db, registry: InterestRegistry, rows: list) -> int:
    """One outbox delivery per webhook interest of each event (caller's transaction)."""
    queued = 0
    for row in rows:
        for target in registry.targets(row.subscription_id):
            if target.transport == "webhook":
                enqueue(db, KIND, {"interest_id": target.interest_id, "message": event_message(row)},
                        url=target.webhook_url,
                        idempotency_key=f"hub:{target.interest_id}:{digest(row.message_id)[:32]}")
                queued += 1
    return queued


def load_cursor(db, name: str) -> EventFeed:
    """The feed where the named forwarder stopped (from the latest event the first time)."""
    row = db(db.hub_cursor.name == name).select(limitby=(0, 1)).first()
    return EventFeed(row.last_event_id) if row is not None else EventFeed.from_latest(db)


def save_cursor(db, name: str, feed: EventFeed) -> None:
    db.hub_cursor.update_or_insert(db.hub_cursor.name == name, name=name, last_event_id=feed.cursor,
                                   updated_at=utcnow())


# --- the two forwarding loops ----------------------------------------------------------------------
REGISTRY_MAX_AGE = 2.0  # interests and accounts changed by the web process are seen this fast
REPORT_SECONDS = 10.0


def fan_out(server: HubServer, stop: threading.Event, worker_id: str, poll_seconds: float = 0.2) -> None:
    """Push every new event to the connected services interested in it, until `stop`."""
    db = get_db()
    try:
        feed, registry = EventFeed.from_latest(db), InterestRegistry()
        registry.load(db)
    finally:
        db.rollback()
    reported = float("-inf")
    while not stop.is_set():
        if not server.alive:
            raise RuntimeError("the hub WebSocket server stopped")
        try:
            rows = feed.poll(db)
            registry.refresh(db, rows, REGISTRY_MAX_AGE)
        finally:
            db.rollback()
        server.close_changed(registry.versions)
        server.publish(websocket_deliveries(registry, rows))
        if time.monotonic() - reported > REPORT_SECONDS:
            reported = time.monotonic()
            report_connections(worker_id, server.connections)
        if len(rows) < feed.batch:
            stop.wait(poll_seconds)


def forward_webhooks(stop: threading.Event, poll_seconds: float = 0.5, name: str = "webhooks") -> None:
    """Queue the webhook deliveries of every new event, with the cursor, until `stop`. A failure
    raises: the service restarts from the stored cursor, so nothing is skipped nor queued twice."""
    db = get_db()
    with transaction(db):
        feed, registry = load_cursor(db, name), InterestRegistry()
        registry.load(db)
    while not stop.is_set():
        with transaction(db):
            rows = feed.poll(db)
            registry.refresh(db, rows, REGISTRY_MAX_AGE)
            if rows:
                enqueue_webhooks(db, registry, rows)
                save_cursor(db, name, feed)
        if len(rows) < feed.batch:
            stop.wait(poll_seconds)
