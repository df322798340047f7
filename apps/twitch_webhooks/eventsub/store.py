"""EventSub storage both transports share: events stored once per message id (a unique index),
activities with their points derived in the same transaction, and the subscriptions we know.

New events of the types a module consumes are published (shared.dispatch) in the same
transaction. Everything here runs in the caller's transaction; the caller commits (and only then answers
Twitch) or rolls back.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from shared.cache import get_local_cache
from shared.crypto import InvalidToken, decrypt, encrypt, new_token
from shared.db import (
    as_text,
    fit_to_columns,
    insert_rows,
    insert_rows_sql,
    is_postgres,
    placeholder,
    run_sql,
    sql_value,
    utcnow,
)
from shared.dispatch import publish
from shared.outbox import activity_rows, record_activities, reputation_status
from shared.settings import get_settings

log = logging.getLogger(__name__)

#: points of each event type that is an activity; the per-unit types multiply by their count
DEFAULT_POINTS: dict[str, int] = {
    "channel.follow": 10,
    "channel.subscribe": 50,
    "channel.subscription.message": 50,
    "channel.cheer": 1,
    "channel.raid": 30,
    "channel.subscription.gift": 60,
    "channel.ban": -10,
}
#: event field counting the units of a per-unit type (1 point per bit, 60 per gifted sub)
PER_UNIT: dict[str, str] = {"channel.cheer": "bits", "channel.subscription.gift": "total"}
#: the event fields naming the viewer (user) and the channel, by prefix; others use user_ / broadcaster_user_
USER_PREFIX: dict[str, str] = {"channel.raid": "from_broadcaster_user_"}
CHANNEL_PREFIX: dict[str, str] = {"channel.raid": "to_broadcaster_user_"}
#: event fields copied into the activity's details
DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "channel.follow": ("followed_at",),
    "channel.subscribe": ("tier", "is_gift"),
    "channel.subscription.message": ("tier", "cumulative_months", "streak_months", "duration_months"),
    "channel.cheer": ("bits", "is_anonymous"),
    "channel.raid": ("viewers",),
    "channel.subscription.gift": ("total", "tier", "cumulative_total", "is_anonymous"),
    "channel.ban": ("reason", "is_permanent", "ends_at", "moderator_user_id", "moderator_user_login"),
}
SOURCE = "eventsub"


# --- points ----------------------------------------------------------------------------------
def points_value(value: object) -> int | None:
    """An override value as points: an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@lru_cache(maxsize=4)
def _parse_overrides(raw: str) -> dict[str, int]:
    parsed = json.loads(raw) if raw else {}
    result = {name: points_value(value) for name, value in parsed.items()}
    ignored = sorted(name for name, value in result.items() if value is None)
    if ignored:
        log.warning("ACTIVITY_POINTS: ignoring non-integer points of %s", ", ".join(ignored))
    return {name: value for name, value in result.items() if value is not None}


def global_overrides() -> dict[str, int]:
    """ACTIVITY_POINTS as {event type: points}."""
    return _parse_overrides(get_settings().activity_points)


def points_for(event_type: str, event: Mapping, overrides: Mapping | None = None) -> int | None:
    """The points of one event; None when the type is not an activity. `overrides` (a channel's)
    win over ACTIVITY_POINTS, which wins over DEFAULT_POINTS."""
    if event_type not in DEFAULT_POINTS:
        return None
    points = DEFAULT_POINTS[event_type]
    points = global_overrides().get(event_type, points)
    channel_points = points_value((overrides or {}).get(event_type))
    if channel_points is not None:
        points = channel_points
    unit_field = PER_UNIT.get(event_type)
    if unit_field is not None:
        units = event.get(unit_field)
        points *= units if points_value(units) is not None else 0
    return points


# --- who and where ---------------------------------------------------------------------------
def event_channel(event_type: str, event: Mapping) -> tuple[str | None, str | None]:
    """(broadcaster id, login) of the channel the event happened in."""
    prefix = CHANNEL_PREFIX.get(event_type, "broadcaster_user_")
    return event.get(prefix + "id"), event.get(prefix + "login")


def event_user(event_type: str, event: Mapping) -> tuple[str | None, str | None, str | None]:
    """(user id, login, display name) of the viewer who acted; all None when anonymous."""
    prefix = USER_PREFIX.get(event_type, "user_")
    return event.get(prefix + "id"), event.get(prefix + "login"), event.get(prefix + "name")


# --- events ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incoming:
    """One notification to store: its message id, Twitch's subscription object and event."""
    message_id: str
    subscription: Mapping
    event: Mapping
    transport: str
    received_at: datetime.datetime = field(default_factory=utcnow)

    @property
    def event_type(self) -> str:
        return self.subscription.get("type") or "unknown"


def _event_rows(items: list[Incoming]) -> list[dict]:
    return [{"message_id": item.message_id, "subscription_id": item.subscription.get("id"),
             "event_type": item.event_type, "event_version": item.subscription.get("version"),
             "transport": item.transport, "channel_id": as_text(event_channel(item.event_type, item.event)[0]),
             "user_id": as_text(event_user(item.event_type, item.event)[0]), "event": item.event,
             "received_at": item.received_at} for item in items]


def _insert_events(db, items: list[Incoming]) -> set[str]:
    """Insert the raw events, one statement for all; returns the message ids that were new. ON
    CONFLICT DO NOTHING on the unique index: concurrent duplicates wait for each other and the
    caller's transaction stays usable (no error to recover from, on PostgreSQL as on SQLite)."""
    return set(insert_rows(db, "eventsub_event", _event_rows(items), key="message_id", skip_existing="message_id"))


#: How long a process reuses a channel's settings it read: a change made in another process
#: (another web replica, the CLI) applies to events at most this late; this process forgets
#: its copy when it makes the change itself (forget_channel_settings).
CHANNEL_SETTINGS_MAX_AGE = 2.0
DEFAULT_CHANNEL_SETTINGS = (True, None)  # an unknown channel earns the default points


def _channel_settings(db, channel_ids: set[str]) -> dict[str, tuple[bool, dict | None]]:
    """{broadcaster id: (activities enabled, its points overrides)}: read at most every
    CHANNEL_SETTINGS_MAX_AGE seconds, those not known here in one query; an inactive channel earns
    no points."""
    cache = get_local_cache("channel-settings")
    settings = {channel_id: cache.get(channel_id) for channel_id in channel_ids}
    missing = [channel_id for channel_id, known in settings.items() if known is None]
    if not missing:
        return settings
    rows = run_sql(  # pydal stores booleans as 'T'/'F'
        db, "SELECT broadcaster_id, active = 'T', points_overrides FROM twitch_channel WHERE broadcaster_id IN"
            f" ({', '.join([placeholder(db)] * len(missing))})", tuple(missing))
    found = {}
    for channel_id, active, overrides in rows:
        if isinstance(overrides, str):  # SQLite hands JSON back as text, psycopg2 parses it
            overrides = json.loads(overrides)
        found[channel_id] = (bool(active), overrides or None)
    for channel_id in missing:
        settings[channel_id] = found.get(channel_id, DEFAULT_CHANNEL_SETTINGS)
        cache.set(channel_id, settings[channel_id], CHANNEL_SETTINGS_MAX_AGE)
    return settings


def forget_channel_settings(broadcaster_id: str) -> None:
    """The channel's settings changed: the next event reads them again."""
    get_local_cache("channel-settings").delete(broadcaster_id)


def _activity(item: Incoming, settings: tuple[bool, dict | None]) -> dict | None:
    """The activity of a new event (record_activities' row), None when its channel is inactive."""
    active, overrides = settings
    if not active:
        return None
    event_type, event = item.event_type, item.event
    channel_id, channel_login = event_channel(event_type, event)
    user_id, user_login, user_name = event_user(event_type, event)
    details = {name: event[name] for name in DETAIL_FIELDS.get(event_type, ()) if name in event}
    details["transport"] = item.transport
    return {"activity_type": event_type, "points": points_for(event_type, event, overrides), "source": SOURCE,
            "source_id": item.message_id, "channel_id": as_text(channel_id), "channel_login": channel_login,
            "user_id": as_text(user_id), "user_login": user_login, "user_name": user_name, "details": details}


def record_notifications(db, items: list[Incoming]) -> list[bool]:
    """Store notifications and, for the activity types, their activities and outbox rows, in the
    caller's transaction, with one statement per table whatever their number (on PostgreSQL one
    statement for all three). Returns, item by item, whether it was new: a message id already
    stored (or earlier in `items`) writes nothing."""
    if not items:
        return []
    if is_postgres(db):
        inserted = _record_in_one_statement(db, items)
    else:
        inserted = _insert_events(db, items)
        record_activities(db, _activities(db, [item for item in _first_of_each(items)
                                                if item.message_id in inserted]))
    # the modules that consume some of these types (manifest "consumes") read them from there
    publish(db, ((item.message_id, item.event_type, item.event) for item in _first_of_each(items)
                 if item.message_id in inserted))
    new = []
    for item in items:
        new.append(item.message_id in inserted)
        inserted.discard(item.message_id)  # a repeat later in the list is a duplicate
    return new


def _first_of_each(items: list[Incoming]) -> list[Incoming]:
    """The items without the repeats of a message id earlier in the list."""
    first: dict[str, Incoming] = {}
    for item in items:
        first.setdefault(item.message_id, item)
    return list(first.values())


def _activities(db, items: list[Incoming]) -> list[dict]:
    """The activities (record_activities' rows) of these events: the activity types, on channels
    that are not inactive."""
    earning = [(item, as_text(event_channel(item.event_type, item.event)[0])) for item in items
               if item.event_type in DEFAULT_POINTS]
    channels = _channel_settings(db, {channel_id for _, channel_id in earning if channel_id is not None})
    activities = [_activity(item, channels.get(channel_id, DEFAULT_CHANNEL_SETTINGS)) for item, channel_id in earning]
    return [activity for activity in activities if activity is not None]


def _record_in_one_statement(db, items: list[Incoming]) -> set[str]:
    """PostgreSQL: events, activities and outbox rows in one round trip, chained by WITH clauses:
    the events (ON CONFLICT DO NOTHING), the activities of the events that statement inserted
    (computed beforehand for every item, typed by json_populate_recordset), and their outbox
    rows. Returns the message ids that were new."""
    now = utcnow()
    insert_events, event_params = insert_rows_sql(db, "eventsub_event", _event_rows(items), skip_existing="message_id")
    activities = fit_to_columns(db, "activity", activity_rows(_activities(db, _first_of_each(items)), now))
    columns = ", ".join(activities[0]) if activities else "source_id"
    statement = (
        f"WITH new_events AS ({insert_events} RETURNING message_id), "
        f"new_activities AS (INSERT INTO activity ({columns}) SELECT {columns} "
        "FROM json_populate_recordset(NULL::activity, %s) WHERE source_id IN (SELECT message_id FROM new_events) "
        "RETURNING id), "
        "new_outbox AS (INSERT INTO outbox (created_at, kind, activity_id, idempotency_key, status, attempts, "
        "next_attempt_at) SELECT %s::timestamp, 'reputation', id, 'activity:' || id, %s, 0, %s::timestamp "
        "FROM new_activities) "
        "SELECT message_id FROM new_events")
    stamp = now.isoformat(" ", "seconds")
    rows = run_sql(db, statement, (*event_params, json.dumps(activities, default=sql_value), stamp,
                                   reputation_status(), stamp))
    return {message_id for (message_id,) in rows}


def record_notification(db, *, message_id: str, subscription: Mapping, event: Mapping, transport: str,
                        received_at: datetime.datetime | None = None) -> bool:
    """Store one notification (see record_notifications). False (and nothing written) when the
    message id was already stored."""
    return record_notifications(db, [Incoming(message_id, subscription, event, transport,
                                              received_at or utcnow())])[0]


def batch_events(events: list) -> list[Mapping]:
    """The events of a batched payload: items are {"id", "data"} wrappers or the events themselves."""
    return [item["data"] if isinstance(item.get("data"), Mapping) else item for item in events]


def batch_items(*, message_id: str, subscription: Mapping, events: list, transport: str) -> list[Incoming]:
    """A batched payload (`events: [...]`) as notifications: item i is message `<message_id>:<i>`,
    so a redelivered batch is deduplicated item by item."""
    received_at = utcnow()
    return [Incoming(f"{message_id}:{index}", subscription, event, transport, received_at)
            for index, event in enumerate(batch_events(events))]


def store_notifications(db, jobs: list[list[Incoming]]) -> list[int]:
    """GroupCommit's writer: many requests' notifications in one transaction; per request, how
    many of its items were new."""
    new = iter(record_notifications(db, [item for job in jobs for item in job]))
    return [sum(next(new) for _ in job) for job in jobs]


# --- subscriptions ---------------------------------------------------------------------------
PENDING_PREFIX = "pending:"  # twitch_id of a row reserved before Twitch gave the subscription its id
PENDING_STATUS = "creating"
RESERVATION_TTL = datetime.timedelta(hours=1)
#: Twitch statuses of a subscription that works (or will, once the challenge is answered)
LIVE_STATUSES = ("enabled", "webhook_callback_verification_pending")


def normalize_condition(condition: Mapping | None) -> dict[str, str]:
    """A condition as comparable data: Twitch lists unused keys with empty values."""
    return {str(name): str(value) for name, value in (condition or {}).items() if value not in ("", None)}


def _parse_twitch_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
        except OverflowError:
            return None
    return parsed.replace(microsecond=0)


def _subscription_values(twitch_subscription: Mapping) -> dict:
    transport = twitch_subscription.get("transport") or {}
    return {
        "type": twitch_subscription.get("type") or "unknown",
        "version": str(twitch_subscription.get("version") or "1"),
        "condition": normalize_condition(twitch_subscription.get("condition")),
        "transport_method": transport.get("method") or "webhook",
        "callback": transport.get("callback"),
        "session_id": transport.get("session_id"),
        "status": twitch_subscription.get("status") or "unknown",
        "cost": int(twitch_subscription.get("cost") or 0),
        "updated_at": utcnow(),
    }


def upsert_subscription(db, twitch_subscription: Mapping, *, created_by_us: bool, secret: str | None = None) -> int:
    """Insert or update our row of a Twitch subscription object; returns the row id. A row once
    created by us stays ours; the secret is kept unless a new one is given."""
    return _upsert(db, twitch_subscription, created_by_us, secret, {})


def _upsert(db, twitch_subscription: Mapping, created_by_us: bool, secret: str | None, changes: dict) -> int:
    values = {**_subscription_values(twitch_subscription), **changes}
    if secret is not None:
        values["secret_encrypted"] = encrypt(secret)
    table = db.eventsub_subscription
    _lock_subscription(db, twitch_subscription["id"])
    row = db(table.twitch_id == twitch_subscription["id"]).select(
        table.id, table.status, table.created_by_us, limitby=(0, 1), for_update=is_postgres(db)).first()
    if row is None:
        row = _pending_match(db, twitch_subscription)
    if row is None:
        created_at = _parse_twitch_time(twitch_subscription.get("created_at")) or values["updated_at"]
        return table.insert(twitch_id=twitch_subscription["id"], created_by_us=created_by_us, created_at=created_at,
                            **values)
    if row.status == "enabled" and values["status"] == "webhook_callback_verification_pending":
        values["status"] = "enabled"  # the challenge was answered before Twitch's creation reply reached us
    db(table.id == row.id).update(twitch_id=twitch_subscription["id"],
                                  created_by_us=bool(row.created_by_us or created_by_us), **values)
    return row.id


def _pending_match(db, subscription: Mapping):
    """Our reserved row awaiting this subscription's id: same type, version, condition, callback."""
    table = db.eventsub_subscription
    wanted = _subscription_values(subscription)
    rows = db((table.status == PENDING_STATUS) & (table.type == wanted["type"]) & (table.version == wanted["version"])
              & (table.callback == wanted["callback"])).select(
        table.id, table.status, table.created_by_us, table.condition, table.secret_encrypted, orderby=table.id)
    return next((row for row in rows if normalize_condition(row.condition) == wanted["condition"]), None)


def reserve_subscription(db, *, event_type: str, version: str, condition: Mapping, callback: str,
                         secret: str | None) -> str:
    """Store our row (and secret) before asking Twitch for the subscription, so that a challenge
    arriving before Twitch's reply can be verified. Returns the provisional twitch_id."""
    provisional = PENDING_PREFIX + new_token(12)
    now = utcnow()
    table = db.eventsub_subscription
    # a reservation whose creation never finished (the process died meanwhile) is dropped
    db((table.status == PENDING_STATUS) & (table.updated_at < now - RESERVATION_TTL)).delete()
    db.eventsub_subscription.insert(
        twitch_id=provisional, type=event_type, version=version, condition=normalize_condition(condition),
        transport_method="webhook", callback=callback, status=PENDING_STATUS, created_by_us=True,
        secret_encrypted=encrypt(secret) if secret else None, created_at=now, updated_at=now)
    return provisional


def _lock_subscription(db, twitch_id: str) -> None:
    """PostgreSQL: Twitch's creation reply and its verification challenge may store the same
    subscription at once, and FOR UPDATE locks no row that is not there yet (both would insert it):
    one waits for the other. Taken before any row is touched, so both take their locks in one order."""
    if is_postgres(db):
        run_sql(db, "SELECT pg_advisory_xact_lock(hashtext(%s))", (str(twitch_id),))


def attach_subscription(db, provisional_id: str, twitch_subscription: Mapping) -> int:
    """Twitch created the subscription: our reserved row takes its id, status and cost."""
    table = db.eventsub_subscription
    _lock_subscription(db, twitch_subscription["id"])
    if db(table.twitch_id == twitch_subscription["id"]).count():
        db(table.twitch_id == provisional_id).delete()  # the challenge came first and claimed a row
    else:
        db(table.twitch_id == provisional_id).update(twitch_id=twitch_subscription["id"])
    return upsert_subscription(db, twitch_subscription, created_by_us=True)


def forget_reservation(db, provisional_id: str) -> None:
    """Twitch refused the subscription: drop the reserved row."""
    db(db.eventsub_subscription.twitch_id == provisional_id).delete()


def mark_enabled(db, subscription: Mapping) -> int:
    """Twitch verified the callback (challenge answered): the subscription is enabled."""
    return _upsert(db, subscription, False, None, {"status": "enabled", "revoked_reason": None})


def mark_revoked(db, subscription: Mapping) -> None:
    """Twitch revoked the subscription; its `status` is the reason (user_removed,
    authorization_revoked, notification_failures_exceeded, version_removed)."""
    _upsert(db, subscription, False, None,
            {"status": "revoked", "revoked_reason": subscription.get("status") or "revoked"})


def subscription_secret(db, subscription: Mapping, *, pending: bool = False) -> str | None:
    """The webhook secret we gave Twitch for this subscription, found by its id (or, with
    `pending`, for a challenge: by our reserved row while Twitch's reply is on its way). None when
    it has none or it cannot be decrypted any more: the caller uses TWITCH_WEBHOOK_SECRET."""
    twitch_id = subscription.get("id")
    if not twitch_id:
        return None
    rows = run_sql(db, f"SELECT secret_encrypted FROM eventsub_subscription WHERE twitch_id = {placeholder(db)}",
                   (str(twitch_id),))
    encrypted = rows[0][0] if rows else None
    if not rows and pending:
        row = _pending_match(db, subscription)
        encrypted = row.secret_encrypted if row is not None else None
    if not encrypted:
        return None
    try:
        return decrypt(encrypted)
    except InvalidToken:
        log.warning("the secret of subscription %s cannot be decrypted (WADDLEBOT_SECRET_KEY changed?)", twitch_id)
        return None


#: How long a process reuses a subscription's secret it read. A message that does not verify with
#: it is checked again with the secret stored now, so a new secret applies at once; the messages
#: of a subscription deleted here (signed by Twitch with the secret we gave it) pass this long.
SECRET_MAX_AGE = 60.0
SUBSCRIPTION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")  # Twitch's are UUIDs; eventsub_subscription.twitch_id is 64


def signing_secrets(db, subscription: object, *, pending: bool = False) -> Iterator[str]:
    """The secrets a webhook message of `subscription` (Twitch's subscription object) may be
    signed with, the likeliest first: the one this process read recently, then, only if the
    caller asks for more, the one stored now. Without a secret of its own (or a subscription
    object) it is TWITCH_WEBHOOK_SECRET. A challenge (`pending`) always reads the database."""
    default = get_settings().twitch_webhook_secret
    twitch_id = subscription.get("id") if isinstance(subscription, Mapping) else None
    if not isinstance(twitch_id, str) or not SUBSCRIPTION_ID.fullmatch(twitch_id):
        yield default
        return
    cache = get_local_cache("subscription-secrets")
    remembered = None if pending else cache.get(twitch_id)
    if remembered is not None:
        yield remembered
    current = subscription_secret(db, subscription, pending=pending)
    # The id is not verified yet: only the id of a subscription we hold a secret for is kept, so
    # unsigned messages with made-up ids store nothing
    if current and not pending:
        cache.set(twitch_id, current, SECRET_MAX_AGE)
    if remembered is None or current != remembered:
        yield current or default
