"""The YouTube Data API quota ledger: units spent per Pacific day (the day Google counts by),
the pause after quotaExceeded, and how far the poll interval stretches to stay within the quota."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.db import utcnow

PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True)
class QuotaStatus:
    day: str
    units: int
    limit: int
    paused_until: int | None
    last_error: str | None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.units)

    def paused(self, now: float) -> bool:
        return bool(self.paused_until and self.paused_until > now)


def pacific_day(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, PACIFIC).date().isoformat()


def next_reset(now: float) -> int:
    """Unix time of the next midnight in America/Los_Angeles (DST-aware)."""
    local = datetime.datetime.fromtimestamp(now, PACIFIC)
    midnight = datetime.datetime.combine(local.date() + datetime.timedelta(days=1), datetime.time(), PACIFIC)
    return int(midnight.timestamp())


def _row(db, now: float):
    return db(db.lp_quota.day == pacific_day(now)).select(limitby=(0, 1)).first()


def status(db, now: float, limit: int) -> QuotaStatus:
    row = _row(db, now)
    if row is None:
        return QuotaStatus(pacific_day(now), 0, limit, None, None)
    return QuotaStatus(row.day, row.units, limit, row.paused_until, row.last_error)


def _ensure_row(db, now: float) -> None:
    if _row(db, now) is None:
        db.lp_quota.insert(day=pacific_day(now), units=0, updated_at=utcnow())


def add_units(db, units: int, now: float) -> None:
    """Count units spent today (in the caller's transaction). An atomic increment: the poller and
    a chat export may spend at the same time."""
    if units <= 0:
        return
    _ensure_row(db, now)
    query = db.lp_quota.day == pacific_day(now)
    db(query).update(units=db.lp_quota.units + units, updated_at=utcnow())


def pause(db, now: float, error: str) -> int:
    """quotaExceeded: stop calling YouTube until the Pacific-midnight reset. Returns that time."""
    until = next_reset(now)
    _ensure_row(db, now)
    db(db.lp_quota.day == pacific_day(now)).update(paused_until=until, last_error=error[:500],
                                                   updated_at=utcnow())
    return until


def note_error(db, now: float, error: str | None) -> None:
    """Remember the last YouTube error (None clears it) for the admin page."""
    _ensure_row(db, now)
    db(db.lp_quota.day == pacific_day(now)).update(last_error=error[:500] if error else None, updated_at=utcnow())


def stretched_interval(base: float, calls_per_poll: int, remaining: int, seconds_to_reset: float) -> float:
    """The poll interval that spreads the remaining units until the reset: `base` while the
    projected use fits, longer as the quota runs low. Assumes remaining > 0."""
    if calls_per_poll <= 0:
        return base
    polls_left = max(1, remaining // calls_per_poll)
    return max(base, math.ceil(seconds_to_reset / polls_left))
