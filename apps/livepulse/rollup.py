"""5-minute roll-ups (maximum and time-weighted average per bucket, for the event total and each
stream) and the retention of raw samples.

Buckets are rolled up as soon as they are final (their last sample's successor is known), so
wide history windows read ~2,000 roll-up rows instead of ~800,000 samples; raw samples older
than SAMPLE_RETENTION_DAYS are then deleted, leaving the roll-ups."""

from __future__ import annotations

import logging

from apps.livepulse.history import BUCKET, MAX_GAP, TOTAL, floor_bucket
from shared.db import transaction

log = logging.getLogger(__name__)
BUCKETS_PER_TRANSACTION = 288  # one day of buckets
PURGE_STEP = 6 * 3600  # seconds of raw samples deleted per statement


def _aggregate(db, event_id: int, low: int, high: int, per_stream: bool) -> list[tuple]:
    """(series, bucket, max, viewer·seconds, seconds) of every bucket in [low, high)."""
    table, sid, partition = (("lp_stream_sample", "stream_id", "PARTITION BY stream_id ") if per_stream
                             else ("lp_sample", str(TOTAL), ""))
    span = "COALESCE(nx, ts) - ts"
    return db.executesql(
        f"SELECT sid, (ts / {BUCKET}) * {BUCKET}, MAX(v), SUM(v * d), SUM(d) FROM ("
        f"SELECT sid, ts, v, CASE WHEN {span} > {MAX_GAP} THEN 0 ELSE {span} END AS d FROM ("
        f"SELECT {sid} AS sid, ts, viewers AS v, LEAD(ts) OVER ({partition}ORDER BY ts) AS nx FROM {table} "
        f"WHERE event_id = {event_id} AND ts >= {low} AND ts < {high + MAX_GAP} AND viewers IS NOT NULL) x"
        f") y WHERE ts < {high} GROUP BY sid, ts / {BUCKET}")


def _first_ts(db, event_id: int) -> int | None:
    row = db.executesql(f"SELECT MIN(ts) FROM lp_sample WHERE event_id = {event_id}")
    return row[0][0] if row and row[0][0] is not None else None


def roll_up_event(db, event_id: int, now: float) -> int:
    """Roll up the event's final buckets, one day per transaction; returns the buckets written.
    A bucket is final once MAX_GAP has passed after its end (no sample can still extend it)."""
    written = 0
    event = db.lp_event(event_id)
    start = event.rolled_until if event and event.rolled_until is not None else None
    if start is None:
        first = _first_ts(db, event_id)
        if first is None:
            return 0
        start = floor_bucket(first)
    final = floor_bucket(int(now) - MAX_GAP)
    while start < final:
        stop = min(final, start + BUCKETS_PER_TRANSACTION * BUCKET)
        with transaction(db):
            rows = _aggregate(db, event_id, start, stop, False) + _aggregate(db, event_id, start, stop, True)
            for sid, bucket, peak, viewer_seconds, seconds in rows:
                average = viewer_seconds / seconds if seconds else peak
                db.lp_rollup.insert(event_id=event_id, stream_id=int(sid), ts=int(bucket), max_viewers=peak,
                                    avg_viewers=float(average), seconds=int(seconds or 0))
            db(db.lp_event.id == event_id).update(rolled_until=stop)
        written += len(rows)
        start = stop
    return written


def purge_event(db, event_id: int, now: float, retention_days: int) -> int:
    """Delete raw samples older than the retention (only what is rolled up); returns rows deleted."""
    event = db.lp_event(event_id)
    if event is None or event.rolled_until is None:
        return 0
    cutoff = min(event.rolled_until, floor_bucket(int(now) - retention_days * 86400))
    low = event.raw_from if event.raw_from is not None else _first_ts(db, event_id)
    deleted = 0
    while low is not None and low < cutoff:
        high = min(cutoff, low + PURGE_STEP)
        with transaction(db):
            for table in (db.lp_stream_sample, db.lp_sample):
                deleted += db((table.event_id == event_id) & (table.ts < high)).delete()
            db(db.lp_event.id == event_id).update(raw_from=high)
        low = high
    return deleted


def maintain(db, now: float, retention_days: int) -> None:
    """Roll up and purge every event (the maintenance service's one pass)."""
    event_ids = [row.id for row in db(db.lp_event).select(db.lp_event.id)]
    db.commit()
    for event_id in event_ids:
        written = roll_up_event(db, event_id, now)
        deleted = purge_event(db, event_id, now, retention_days)
        if written or deleted:
            log.info("livepulse event %s: %d roll-up rows written, %d raw samples purged", event_id, written, deleted)
