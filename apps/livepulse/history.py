"""Viewer history of an event: the chart series (downsampled server-side, keeping each bucket's
maximum so peaks survive) and the window's statistics (current, peak, time-weighted average,
hours watched), for the event total and per stream.

Sources: raw samples, and the 5-minute roll-ups (rollup.py). Wide windows read the roll-ups,
which exist for everything older than a few minutes, plus the raw tail; the statistics use the
roll-ups for every whole bucket in the window and raw samples at the edges. Every query is one
aggregate over an index range; values interpolated into SQL are integers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from apps.livepulse.params import Window

BUCKET = 300  # seconds of one roll-up bucket
MAX_GAP = 300  # a sample stands until the next one; a longer gap (an outage) counts nothing
TOTAL = 0  # the series id of the event total (streams use their own id)


def floor_bucket(ts: int) -> int:
    return ts - ts % BUCKET


def ceil_bucket(ts: int) -> int:
    return -(-ts // BUCKET) * BUCKET


@dataclass(frozen=True)
class Sources:
    """Roll-up buckets [rollup_from, split) and raw samples [split, end] that cover a window."""

    rollup_from: int
    split: int
    end: int


def _sources(event, window: Window, bucket: int | None) -> Sources:
    boundary = event.rolled_until if bucket and bucket >= BUCKET else event.raw_from
    split = min(max(boundary or window.start, window.start), window.end + 1)
    return Sources(floor_bucket(window.start), split, window.end)


def choose_bucket(db, event, window: Window, max_points: int) -> int | None:
    """None when the window holds at most max_points samples, else the bucket size (seconds) that
    keeps every series within max_points; a multiple of 300 once it reaches the roll-up size."""
    needed = window.seconds // (max_points - 2) + 1
    if needed >= BUCKET:
        return ceil_bucket(needed)
    sources = _sources(event, window, None)
    count = db.executesql(
        f"SELECT COUNT(*) FROM lp_sample WHERE event_id = {int(event.id)} AND ts >= {sources.split} "
        f"AND ts <= {sources.end}")[0][0]
    if sources.split > window.start:
        count += db.executesql(
            f"SELECT COUNT(*) FROM lp_rollup WHERE event_id = {int(event.id)} AND stream_id = {TOTAL} "
            f"AND ts >= {sources.rollup_from} AND ts < {sources.split}")[0][0]
    return None if count <= max_points else needed


def _series_rows(db, event_id: int, sources: Sources, bucket: int | None, per_stream: bool) -> list[tuple]:
    """(series id, ts, viewers) rows: each bucket's maximum, or every raw sample when bucket is None."""
    table, sid = ("lp_stream_sample", "stream_id") if per_stream else ("lp_sample", str(TOTAL))
    rows: list[tuple] = []
    if sources.split <= sources.end:
        where = f"event_id = {event_id} AND ts >= {sources.split} AND ts <= {sources.end}"
        if bucket:
            group = f"{'stream_id, ' if per_stream else ''}ts / {bucket}"
            rows += db.executesql(f"SELECT {sid}, (ts / {bucket}) * {bucket}, MAX(viewers) FROM {table} "
                                  f"WHERE {where} GROUP BY {group}")
        else:
            rows += db.executesql(f"SELECT {sid}, ts, viewers FROM {table} WHERE {where}")
    if sources.split > sources.rollup_from:
        size = bucket or BUCKET
        which = "<>" if per_stream else "="
        rows += db.executesql(
            f"SELECT stream_id, (ts / {size}) * {size}, MAX(max_viewers) FROM lp_rollup WHERE event_id = {event_id} "
            f"AND stream_id {which} {TOTAL} AND ts >= {sources.rollup_from} AND ts < {sources.split} "
            f"GROUP BY stream_id, ts / {size}")
    return rows


def series(db, event, window: Window, bucket: int | None, per_stream: bool) -> dict[int, list[tuple]]:
    """Series id → [(ts, viewers), …] sorted by ts (viewers None where unknown)."""
    points: dict[int, dict[int, int | None]] = defaultdict(dict)
    for sid, ts, viewers in _series_rows(db, int(event.id), _sources(event, window, bucket), bucket, per_stream):
        by_ts = points[sid]
        previous = by_ts.get(ts)
        by_ts[ts] = viewers if previous is None else max(previous, viewers or 0)  # raw meets roll-up
    return {sid: sorted(by_ts.items()) for sid, by_ts in points.items()}


# -- statistics --------------------------------------------------------------------------------
@dataclass
class Stats:
    peak: int | None = None
    viewer_seconds: int = 0
    seconds: int = 0
    current: int | None = None
    current_ts: int | None = None

    def add(self, peak, viewer_seconds, seconds) -> None:
        if peak is not None:
            self.peak = peak if self.peak is None else max(self.peak, peak)
        self.viewer_seconds += int(viewer_seconds or 0)
        self.seconds += int(seconds or 0)

    def as_json(self) -> dict:
        average = self.viewer_seconds / self.seconds if self.seconds else self.current
        return {"current": self.current, "currentTs": self.current_ts, "peak": self.peak,
                "average": round(average, 1) if average is not None else None,
                "hoursWatched": round(self.viewer_seconds / 3600, 2), "viewerSeconds": self.viewer_seconds,
                "seconds": self.seconds}


def _raw_stats(db, event_id: int, low: int, high: int, segment_end: int | None, per_stream: bool) -> list[tuple]:
    """(series, peak, viewer·seconds, seconds) over raw samples with low ≤ ts < high. A sample
    stands until the next known one (0 s across a gap over MAX_GAP); the last one until segment_end (None: 0 s)."""
    table, sid, partition = (("lp_stream_sample", "stream_id", "PARTITION BY stream_id ") if per_stream
                             else ("lp_sample", str(TOTAL), ""))
    until = "ts" if segment_end is None else str(int(segment_end))
    span = f"COALESCE(nx, {until}) - ts"
    return db.executesql(
        f"SELECT sid, MAX(v), SUM(v * d), SUM(d) FROM ("
        f"SELECT sid, v, CASE WHEN {span} > {MAX_GAP} THEN 0 ELSE {span} END AS d FROM ("
        f"SELECT {sid} AS sid, ts, viewers AS v, LEAD(ts) OVER ({partition}ORDER BY ts) AS nx FROM {table} "
        f"WHERE event_id = {event_id} AND ts >= {low} AND ts < {high} AND viewers IS NOT NULL) x) y GROUP BY sid")


def _rollup_stats(db, event_id: int, low: int, high: int, per_stream: bool) -> list[tuple]:
    which = "<>" if per_stream else "="
    return db.executesql(
        f"SELECT stream_id, MAX(max_viewers), SUM(avg_viewers * seconds), SUM(seconds) FROM lp_rollup "
        f"WHERE event_id = {event_id} AND stream_id {which} {TOTAL} AND ts >= {low} AND ts < {high} "
        f"GROUP BY stream_id")


def _stat_segments(event, window: Window) -> tuple[tuple[int, int] | None, tuple[int, int] | None, int]:
    """(raw head [start, a), roll-up buckets [a, r), raw tail start r) for the statistics."""
    end = window.end + 1
    rolled = event.rolled_until or 0
    if rolled <= window.start:
        return None, None, window.start
    first = ceil_bucket(window.start) if window.start >= (event.raw_from or 0) else floor_bucket(window.start)
    last = min(rolled, floor_bucket(end))
    if last <= first:
        return None, None, window.start
    head = (window.start, first) if first > window.start else None
    return head, (first, last), last


def statistics(db, event, window: Window, per_stream: bool) -> dict[int, Stats]:
    """Series id → Stats: the total (id 0) and, with per_stream, every stream."""
    event_id = int(event.id)
    stats: dict[int, Stats] = defaultdict(Stats)
    head, rolled, tail = _stat_segments(event, window)
    for streams in (False, True) if per_stream else (False,):
        rows = _raw_stats(db, event_id, tail, window.end + 1, None, streams)
        if head:
            rows += _raw_stats(db, event_id, head[0], head[1], head[1], streams)
        if rolled:
            rows += _rollup_stats(db, event_id, rolled[0], rolled[1], streams)
        for sid, peak, viewer_seconds, seconds in rows:
            stats[int(sid)].add(peak, viewer_seconds, seconds)
    _add_current(db, event_id, window, stats, per_stream)
    return stats


def _add_current(db, event_id: int, window: Window, stats: dict[int, Stats], per_stream: bool) -> None:
    """The values of the window's last poll."""
    last = db.executesql(f"SELECT ts, viewers FROM lp_sample WHERE event_id = {event_id} AND ts >= {window.start} "
                         f"AND ts <= {window.end} ORDER BY ts DESC LIMIT 1")
    if not last:
        return
    ts, viewers = last[0]
    stats[TOTAL].current, stats[TOTAL].current_ts = viewers, ts
    if per_stream:
        for sid, stream_viewers in db.executesql(
                f"SELECT stream_id, viewers FROM lp_stream_sample WHERE event_id = {event_id} AND ts = {ts}"):
            stats[int(sid)].current, stats[int(sid)].current_ts = stream_viewers, ts


def last_sample_id(db, event_id: int) -> int:
    row = db.executesql(f"SELECT id FROM lp_sample WHERE event_id = {int(event_id)} ORDER BY ts DESC LIMIT 1")
    return row[0][0] if row else 0


def _stream_json(row) -> dict:
    return {"id": row.id, "platform": row.platform, "externalId": row.external_id,
            "title": row.title or row.channel_title or row.external_id, "state": row.state}


def report(db, event, window: Window, max_points: int, per_stream: bool) -> dict:
    """The history response: the window, the bucket size (None = raw samples), the total's points
    and statistics and, with per_stream, each stream's; lastId resumes the SSE stream from here."""
    last_id = last_sample_id(db, event.id)  # first: a sample written meanwhile is sent again, never lost
    bucket = choose_bucket(db, event, window, max_points)
    totals = series(db, event, window, bucket, per_stream=False).get(TOTAL, [])
    stats = statistics(db, event, window, per_stream)
    body = {"event": {"id": event.id, "name": event.name},
            "window": {"from": window.start, "to": window.end},
            "bucketSeconds": bucket, "maxPoints": max_points, "lastId": last_id,
            "total": {"points": totals, "stats": stats[TOTAL].as_json()}}
    if per_stream:
        points = series(db, event, window, bucket, per_stream=True)
        rows = db(db.lp_stream.event_id == event.id).select(orderby=db.lp_stream.id)
        body["streams"] = [{**_stream_json(row), "points": points.get(row.id, []),
                            "stats": stats[row.id].as_json()} for row in rows]
    return body
