"""The conduit's Helix calls (app token, through the Helix pipeline) and its rows: the conduit id
and the shard map live in the database, where every replica sees them."""

from __future__ import annotations

import logging
import time

from apps.twitch_webhooks.conduit.subscriptions import forget_all
from modules.twitch.conduits import (
    CONDUITS_PATH,
    SHARDS_PATH,
    Conduit,
    Shard,
    create_conduit_body,
    parse_conduits,
    parse_shard,
    parse_shard_errors,
    update_conduit_body,
    webhook_shards_body,
    websocket_shards_body,
)
from shared.db import get_db, transaction, utcnow
from shared.helix.client import helix_paginate, helix_request
from shared.locks import service_lock

log = logging.getLogger(__name__)
JSON = {"Content-Type": "application/json"}
ADMIN_LOCK = "eventsub-conduit-admin"


class ConduitError(Exception):
    """Twitch refused a conduit call; the message says what it answered."""


def _checked(response, what: str):
    if not response.ok:
        raise ConduitError(f"{what}: Twitch answered {response.status}: {response.body[:200]!r}")
    return response


class AdminLock:
    """Creating or resizing the conduit is done by one worker at a time (waits up to `timeout`)."""

    def __init__(self, timeout: float = 30.0):
        self.lock, self.timeout = service_lock(ADMIN_LOCK), timeout

    def __enter__(self):
        deadline = time.monotonic() + self.timeout
        while not self.lock.acquire():
            if time.monotonic() > deadline:
                raise ConduitError("another worker holds the conduit lock for too long")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()


def stored_conduit() -> Conduit | None:
    with transaction(get_db()) as db:
        row = db(db.eventsub_conduit).select(orderby=~db.eventsub_conduit.id, limitby=(0, 1)).first()
    return Conduit(row.conduit_id, row.shard_count) if row else None


def _store(conduit: Conduit) -> None:
    with transaction(get_db()) as db:
        if db(db.eventsub_conduit.conduit_id != conduit.id).delete():
            forget_all(db)  # the subscriptions of a conduit Twitch no longer has deliver nothing
        db.eventsub_conduit.update_or_insert(db.eventsub_conduit.conduit_id == conduit.id, conduit_id=conduit.id,
                                             shard_count=conduit.shard_count, updated_at=utcnow())


def ensure_conduit(shard_count: int = 1) -> Conduit:
    """The app's conduit: the stored one if Twitch still has it, else one Twitch lists (ours from
    a lost database), else a new one with `shard_count` shards. Call it with AdminLock held."""
    listed = parse_conduits(_checked(helix_request("GET", CONDUITS_PATH, cache_ttl=0), "listing conduits").body)
    stored = stored_conduit()
    conduit = next((item for item in listed if stored and item.id == stored.id), None) or (
        listed[0] if listed else None)
    if conduit is None:
        answer = helix_request("POST", CONDUITS_PATH, body=create_conduit_body(shard_count), headers=JSON, cache_ttl=0)
        [conduit] = parse_conduits(_checked(answer, "creating the conduit").body)
        log.info("created EventSub conduit %s with %d shard(s)", conduit.id, conduit.shard_count)
    _store(conduit)
    return conduit


def resize(conduit: Conduit, shard_count: int) -> Conduit:
    """PATCH the shard count (AdminLock held)."""
    answer = helix_request("PATCH", CONDUITS_PATH, body=update_conduit_body(conduit.id, shard_count), headers=JSON,
                           cache_ttl=0)
    [resized] = parse_conduits(_checked(answer, "resizing the conduit").body)
    _store(resized)
    log.info("EventSub conduit %s now has %d shard(s)", resized.id, resized.shard_count)
    return resized


def assign_websocket(conduit_id: str, shard_id: str, session_id: str) -> None:
    """Make the WebSocket session `session_id` the shard `shard_id`; ConduitError if Twitch refused."""
    _assign(shard_id, websocket_shards_body(conduit_id, {shard_id: session_id}))


def assign_webhook(conduit_id: str, shard_id: str, callback: str, secret: str) -> None:
    """Make our webhook receiver the shard `shard_id`; ConduitError if Twitch refused."""
    _assign(shard_id, webhook_shards_body(conduit_id, {shard_id: (callback, secret)}))


def _assign(shard_id: str, body: bytes) -> None:
    answer = helix_request("PATCH", SHARDS_PATH, body=body, headers=JSON, cache_ttl=0)
    errors = parse_shard_errors(_checked(answer, f"assigning shard {shard_id}").body)
    if errors:
        raise ConduitError(f"Twitch refused shard {shard_id}: {errors[0].message} ({errors[0].code})")


def shards(conduit_id: str) -> list[Shard]:
    """The conduit's shards as Twitch sees them (every page)."""
    return [parse_shard(item) for item in helix_paginate(SHARDS_PATH, params={"conduit_id": conduit_id})]


def record_shard(conduit_id: str, shard_id: str, **values) -> None:
    with transaction(get_db()) as db:
        table = db.eventsub_conduit_shard
        table.update_or_insert((table.conduit_id == conduit_id) & (table.shard_id == shard_id), conduit_id=conduit_id,
                               shard_id=shard_id, updated_at=utcnow(), **values)
