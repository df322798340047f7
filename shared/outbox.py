"""Durable, retried delivery of activities and outgoing webhooks.

Writers put a row in the `outbox` table in their own transaction (`record_activity`, `enqueue`);
the worker's `Dispatcher` claims due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so several
dispatchers never deliver a row twice), delivers them concurrently and records the result:
delivered, retried later with exponential backoff and jitter, or dead after
OUTBOX_MAX_ATTEMPTS (an admin can retry dead rows).
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import requests
from prometheus_client import Counter

from modules.waddlebot_api import ApiError, ContextClient, ReputationClient
from shared.cache import get_cache
from shared.db import as_text, get_db, insert_rows, is_postgres, rollback, utcnow
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
DELIVERIES = Counter("waddlebot_outbox_deliveries_total", "Outbox delivery attempts", ["kind", "result"])

#: kind → function(row, http session, settings) that delivers one row or raises ApiError
Deliverer = Callable[[object, requests.Session, Settings], None]
DELIVERERS: dict[str, Deliverer] = {}


def deliverer(kind: str):
    """Register the function that delivers outbox rows of one kind."""
    def register(func: Deliverer) -> Deliverer:
        DELIVERERS[kind] = func
        return func
    return register


def record_activity(db, *, activity_type: str, points: int, source: str, source_id: str | None = None,
                    platform: str = "twitch", channel_id: str | None = None, channel_login: str | None = None,
                    user_id: str | None = None, user_login: str | None = None, user_name: str | None = None,
                    details: dict | None = None) -> int:
    """Store an activity and its reputation outbox row in the caller's transaction."""
    return record_activities(db, [{
        "activity_type": activity_type, "points": points, "source": source, "source_id": source_id,
        "platform": platform, "channel_id": channel_id, "channel_login": channel_login, "user_id": user_id,
        "user_login": user_login, "user_name": user_name, "details": details}])[0]


def record_activities(db, activities: list[dict]) -> list[int]:
    """Store activities (record_activity's arguments as dicts; their source_id unique among them)
    and their reputation outbox rows in the caller's transaction, one statement per table."""
    if not activities:
        return []
    now = utcnow()
    rows = activity_rows(activities, now)
    ids = insert_rows(db, "activity", rows, key="source_id")
    if len(ids) != len(rows):
        raise ValueError("activities stored together need distinct source_id values")
    activity_ids = [ids[row["source_id"]] for row in rows]
    insert_rows(db, "outbox", [{"created_at": now, "kind": "reputation", "activity_id": activity_id,
                                "idempotency_key": f"activity:{activity_id}", "status": reputation_status(),
                                "attempts": 0, "next_attempt_at": now} for activity_id in activity_ids])
    return activity_ids


def activity_rows(activities: list[dict], now: datetime.datetime) -> list[dict]:
    """Activities (record_activity's arguments as dicts) as complete `activity` rows."""
    return [{"created_at": now, "platform": "twitch", "channel_id": None, "channel_login": None, "user_id": None,
             "user_login": None, "user_name": None, **activity, "details": activity.get("details") or {},
             "source_id": as_text(activity.get("source_id"))} for activity in activities]


def reputation_status() -> str:
    """The status a new activity's reputation outbox row starts with."""
    return "pending" if get_settings().reputation_api_url else "not_forwarded"


def enqueue(db, kind: str, body: dict, *, url: str | None = None, idempotency_key: str) -> int:
    """Queue one delivery of `kind` (a registered deliverer) in the caller's transaction."""
    if kind not in DELIVERERS:
        raise ValueError(f"no deliverer registered for outbox kind {kind!r}")
    now = utcnow()
    return db.outbox.insert(created_at=now, kind=kind, url=url, body=body, idempotency_key=idempotency_key,
                            status="pending", next_attempt_at=now)


def counts(db) -> dict[str, int]:
    count = db.outbox.id.count()
    rows = db().select(db.outbox.status, count, groupby=db.outbox.status)
    result = dict.fromkeys(("pending", "delivered", "dead", "not_forwarded"), 0)
    result.update({row.outbox.status: row[count] for row in rows})
    return result


def retry(db, outbox_id: int) -> bool:
    """Put a dead row back in the queue; False when there is no such dead row."""
    return bool(db((db.outbox.id == outbox_id) & (db.outbox.status == "dead")).update(
        status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None, last_error=None))


def backoff(attempts: int, settings: Settings) -> float:
    """Exponential backoff, capped, with jitter over the upper half (never less than half the step)."""
    ceiling = min(settings.outbox_backoff_max_seconds, settings.outbox_backoff_base_seconds * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


def activity_payload(activity, enrichment: dict | None) -> dict:
    payload = {
        "activity_id": activity.id, "type": activity.activity_type, "platform": activity.platform,
        "points": activity.points, "channel_id": activity.channel_id, "channel_login": activity.channel_login,
        "user_id": activity.user_id, "user_login": activity.user_login, "user_name": activity.user_name,
        "source": activity.source, "occurred_at": activity.created_at.isoformat() + "Z",
        "details": activity.details or {},
    }
    payload.update(enrichment or {})
    return payload


def _identity(activity, session: requests.Session, settings: Settings) -> dict | None:
    """identity_id and namespace from the context API (cached 10 minutes), when configured."""
    if not (settings.context_api_url and activity.user_id):
        return None
    cache = get_cache("context")
    cache_key = f"{activity.platform}:{activity.user_id}"
    cached = cache.get(cache_key)
    if cached is not None:
        identity_id, _, namespace = cached.decode().partition("\n")
        return {"identity_id": identity_id or None, "namespace": namespace or None}
    client = ContextClient(settings.context_api_url, settings.waddlebot_api_key, settings.api_timeout_seconds,
                           session)
    identity = client.identity(activity.platform, activity.user_id, activity.user_login)
    cache.set(cache_key, f"{identity['identity_id'] or ''}\n{identity['namespace'] or ''}".encode(), 600)
    return identity


@deliverer("reputation")
def deliver_activity(row, session: requests.Session, settings: Settings) -> None:
    if not settings.reputation_api_url:
        raise ApiError("REPUTATION_API_URL is not configured", retryable=True)
    activity = row.activity
    client = ReputationClient(settings.reputation_api_url, settings.waddlebot_api_key,
                              settings.api_timeout_seconds, session)
    client.report(activity_payload(activity, _identity(activity, session, settings)), row.idempotency_key)


class Dispatcher:
    """Claims due outbox rows and delivers them; one instance per worker thread."""

    def __init__(self, db=None, settings: Settings | None = None):
        self.db = db or get_db()
        self.settings = settings or get_settings()
        self._local = threading.local()
        self.pool = ThreadPoolExecutor(self.settings.outbox_concurrency, thread_name_prefix="outbox")

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            # The WaddleBot APIs are internal: skip requests' per-call scan of proxy variables,
            # which costs more than the delivery itself.
            session.trust_env = False
            self._local.session = session
        return self._local.session

    def _lease(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.settings.outbox_lease_seconds)

    def claim(self, limit: int) -> list[int]:
        now, db = utcnow(), self.db
        postgres = is_postgres(db)
        mark, lock = ("%s", "FOR UPDATE SKIP LOCKED") if postgres else ("?", "")
        rows = db.executesql(
            f"UPDATE outbox SET claimed_until = {mark} WHERE id IN ("
            f" SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= {mark}"
            f" AND (claimed_until IS NULL OR claimed_until < {mark}) ORDER BY next_attempt_at, id"
            f" LIMIT {mark} {lock}) RETURNING id",
            placeholders=(now + self._lease(), now, now, limit))
        db.commit()
        return [row[0] for row in rows]

    def _deliver(self, row) -> str | None:
        """Deliver one row; None on success, else the error (prefixed 'dead:' when permanent)."""
        handler = DELIVERERS.get(row.kind)
        if handler is None:
            return f"dead:no deliverer for kind {row.kind!r}"
        try:
            handler(row, self._session(), self.settings)
        except ApiError as err:
            return str(err) if err.retryable else f"dead:{err}"
        except Exception as err:  # a bug in one deliverer must not stop the dispatcher
            log.exception("outbox row %s (%s) failed", row.id, row.kind)
            return f"{err.__class__.__name__}: {err}"
        return None

    def run_once(self) -> int:
        """Claim one batch and deliver it, recording each row's result as soon as it is known (a
        crash then repeats only the deliveries in flight); returns how many rows were processed."""
        ids = self.claim(self.settings.outbox_batch_size)
        if not ids:
            return 0
        db = self.db
        rows = []
        for joined in db(db.outbox.id.belongs(ids)).select(
                db.outbox.ALL, db.activity.ALL, left=db.activity.on(db.activity.id == db.outbox.activity_id)):
            row = joined.outbox
            row.activity = joined.activity
            rows.append(row)
        in_flight = {self.pool.submit(self._deliver, row): row for row in rows}
        renew_every = self.settings.outbox_lease_seconds / 3
        renewed = time.monotonic()
        while in_flight:
            done, _ = wait(in_flight, timeout=renew_every, return_when=FIRST_COMPLETED)
            self._record([(in_flight.pop(future), future.result()) for future in done])
            if in_flight and time.monotonic() - renewed >= renew_every:
                renewed = time.monotonic()
                db(db.outbox.id.belongs([row.id for row in in_flight.values()])).update(
                    claimed_until=utcnow() + self._lease())
            db.commit()
        return len(rows)

    def _record(self, results: list[tuple[object, str | None]]) -> None:
        """Store the outcome of finished deliveries (row, error or None) in the current transaction."""
        now, delivered = utcnow(), []
        for row, error in results:
            if error is None:
                delivered.append(row.id)
                DELIVERIES.labels(row.kind, "delivered").inc()
            else:
                self._record_failure(row, error, now)
        if delivered:
            self.db(self.db.outbox.id.belongs(delivered)).update(
                status="delivered", delivered_at=now, attempts=self.db.outbox.attempts + 1, claimed_until=None,
                last_error=None)

    def _record_failure(self, row, error: str, now: datetime.datetime) -> None:
        attempts = row.attempts + 1
        permanent = error.startswith("dead:")
        dead = permanent or attempts >= self.settings.outbox_max_attempts
        delay = datetime.timedelta(seconds=backoff(attempts, self.settings))
        self.db(self.db.outbox.id == row.id).update(
            attempts=attempts, status="dead" if dead else "pending", claimed_until=None,
            next_attempt_at=now + delay, last_error=error.removeprefix("dead:")[:1000])
        DELIVERIES.labels(row.kind, "dead" if dead else "retry").inc()
        if dead:
            log.warning("outbox row %s (%s) is dead after %s attempts: %s", row.id, row.kind, attempts, error)

    def run(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        try:
            while not stop.is_set():
                try:
                    processed = self.run_once()
                except Exception:
                    rollback(self.db)
                    raise
                if not processed:
                    stop.wait(idle_seconds)
        finally:
            self.pool.shutdown(wait=True)


def run_dispatcher(stop: threading.Event) -> None:
    """The worker service delivering the outbox."""
    Dispatcher().run(stop)
