"""The subscriptions of a conduit: made once, with the app token, against the conduit — the hub's
interests, the standard set of every active channel, what other modules consume (shared.dispatch:
the chat bot's chat types with the app token) and conduit.shard.disabled — deduplicated by
type, version and condition (many interests, or an interest and a channel, share one)."""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod

from apps.twitch_webhooks.eventsub.store import LIVE_STATUSES, normalize_condition, upsert_subscription
from modules.twitch.conduits import SHARD_DISABLED, conduit_transport
from modules.twitch.eventsub import STANDARD_TYPES, standard_condition
from modules.twitch.helix import error_message
from shared.db import get_db, transaction
from shared.dispatch import wanted_subscriptions
from shared.helix.client import HelixUnavailable, helix_request
from shared.settings import get_settings

log = logging.getLogger(__name__)
SUBSCRIPTIONS = "eventsub/subscriptions"
RETRY_FAILED_SECONDS = 60.0
Key = tuple[str, str, str]  # type, version, condition as sorted JSON


def _key(event_type: str, version: str, condition) -> Key:
    return event_type, str(version), json.dumps(normalize_condition(condition), sort_keys=True)


def app_token_wanted(db) -> set[Key]:
    """What the app token subscribes to on any transport: the hub's interests, the standard set of
    every active channel (what other modules consume comes from shared.dispatch, read apart)."""
    # no DISTINCT: PostgreSQL cannot compare json columns; the set deduplicates
    keys = {_key(row.event_type, row.version, row.condition) for row in db(db.hub_interest).select(
        db.hub_interest.event_type, db.hub_interest.version, db.hub_interest.condition)}
    for row in db(db.twitch_channel.active == True).select(db.twitch_channel.broadcaster_id):  # noqa: E712
        keys.update(_key(event_type, version, standard_condition(event_type, row.broadcaster_id))
                    for event_type, version in STANDARD_TYPES)
    return keys


def existing(db, transport_method: str = "conduit") -> set[Key]:
    table = db.eventsub_subscription
    rows = db((table.transport_method == transport_method) & table.status.belongs(LIVE_STATUSES)).select(
        table.type, table.version, table.condition)
    return {_key(row.type, row.version, row.condition) for row in rows}


def forget_all(db) -> None:
    """The conduit changed: the subscriptions of the old one deliver nothing any more."""
    db(db.eventsub_subscription.transport_method == "conduit").delete()


class AppTokenSubscriptions(ABC):
    """The app token's subscriptions on one transport (a subclass says which): creates what is
    missing on each `ensure` (no Helix call when nothing is); a refused one is tried again after
    RETRY_FAILED_SECONDS."""

    transport_method = ""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._failed: dict[Key, float] = {}

    def wanted(self, db) -> set[Key]:
        return app_token_wanted(db)

    def ensure(self) -> int:
        """Create the missing subscriptions; returns how many were created."""
        consumed = {_key(item.event_type, item.version, item.condition) for item in wanted_subscriptions()}
        with transaction(get_db()) as db:
            missing = sorted((self.wanted(db) | consumed) - existing(db, self.transport_method))
        created = 0
        for key in missing:
            if self.clock() < self._failed.get(key, float("-inf")):
                continue
            if self._create(*key):
                created += 1
                self._failed.pop(key, None)
            else:
                self._failed[key] = self.clock() + RETRY_FAILED_SECONDS
        return created

    @abstractmethod
    def _create(self, event_type: str, version: str, condition: str) -> bool:
        """Ask Twitch for one subscription on this transport; False when it should be asked again later."""


class ConduitSubscriptions(AppTokenSubscriptions):
    """Against the conduit, with conduit.shard.disabled besides."""

    transport_method = "conduit"

    def __init__(self, conduit_id: str, clock=time.monotonic):
        super().__init__(clock)
        self.conduit_id = conduit_id

    def wanted(self, db) -> set[Key]:
        return app_token_wanted(db) | {
            _key(SHARD_DISABLED, "1", {"client_id": get_settings().twitch_app_id, "conduit_id": self.conduit_id})}

    def _create(self, event_type: str, version: str, condition: str) -> bool:
        body = json.dumps({"type": event_type, "version": version, "condition": json.loads(condition),
                           "transport": conduit_transport(self.conduit_id)}).encode()
        try:
            response = helix_request("POST", SUBSCRIPTIONS, body=body, headers={"Content-Type": "application/json"},
                                     cache_ttl=0)
        except HelixUnavailable as err:
            log.warning("conduit: creating %s deferred: %s", event_type, err)
            return False
        if not response.ok:
            log.warning("conduit: Twitch refused %s %s (%s): %s", event_type, condition, response.status,
                        error_message(response.body))
            return False
        with transaction(get_db()) as db:
            upsert_subscription(db, response.json()["data"][0], created_by_us=True)
        return True
