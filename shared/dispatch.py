"""Events one module stores and another consumes, without either naming the other.

A module declares in its manifest what it consumes:
    "consumes": {"events": ["channel.chat.message", ...],
                 "subscriptions": "apps.<app>.<module>:<function>"}
The module that receives events (from any transport) calls `publish` in the transaction that
stores them: the events of a consumed type are written to the core table `dispatched_event`
(once per message id), where every process sees them; a consumer reads them with a
`DispatchFeed`. `subscriptions` names a function returning the subscriptions the consumer needs
(`Wanted`); the module that makes subscriptions asks `wanted_subscriptions()` for them."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from shared.db import insert_rows, utcnow
from shared.feed import RowFeed
from shared.registry import discover, load_entry

log = logging.getLogger(__name__)
KEEP = datetime.timedelta(hours=1)  # a consumer that is down longer misses what it did not read


@dataclass(frozen=True)
class Wanted:
    """A subscription a consumer needs: type, version and condition."""

    event_type: str
    version: str
    condition: Mapping[str, str]


@cache
def consumed_types() -> frozenset[str]:
    """The event types some module's manifest consumes (manifests are read once per process)."""
    return frozenset(event_type for manifest in discover() for event_type in manifest.consumes)


def publish(db, events: Iterable[tuple[str, str, Mapping]]) -> int:
    """In the caller's transaction: store the (message id, event type, event) of a consumed type
    for their consumers, each message id once. Returns how many were new."""
    wanted = consumed_types()
    now = utcnow()
    rows = [{"message_id": message_id, "event_type": event_type, "event": dict(event), "created_at": now}
            for message_id, event_type, event in events if event_type in wanted]
    return len(insert_rows(db, "dispatched_event", rows, key="message_id", skip_existing="message_id"))


def wanted_subscriptions() -> list[Wanted]:
    """What every consumer's `subscriptions` function asks for, deduplicated. A consumer that fails
    is logged and skipped: the others' subscriptions are still made."""
    wanted: dict[tuple, Wanted] = {}
    for manifest in discover():
        if not manifest.consumes_subscriptions:
            continue
        try:
            items = load_entry(manifest.consumes_subscriptions)()
        except Exception:
            log.exception("%s: the subscriptions it consumes could not be listed", manifest.name)
            continue
        for item in items:
            wanted.setdefault((item.event_type, item.version, tuple(sorted(item.condition.items()))), item)
    return list(wanted.values())


class DispatchFeed(RowFeed):
    """New dispatched events of `event_types`, in id order (rows: message_id, event_type, event)."""

    table = "dispatched_event"

    def __init__(self, cursor: int, event_types: Iterable[str], **options):
        types = sorted(event_types)
        super().__init__(cursor, where=lambda table: table.event_type.belongs(types), **options)

    @classmethod
    def from_latest(cls, db, event_types: Iterable[str] = (), **options) -> DispatchFeed:
        """A feed of the events dispatched from now on."""
        latest = db.dispatched_event.id.max()
        return cls(db(db.dispatched_event).select(latest).first()[latest] or 0, event_types, **options)


def prune(db, now: datetime.datetime | None = None) -> int:
    """Forget dispatched events older than KEEP (their consumers read them long ago)."""
    return db(db.dispatched_event.created_at < (now or utcnow()) - KEEP).delete()
