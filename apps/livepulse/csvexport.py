"""CSV of raw samples in constant memory: a generator of encoded chunks, each from one short
keyset query over an index range (ts is unique per event and per stream), the connection given
back between chunks. The HTTP routes stream it; export jobs write it to a file."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

from apps.livepulse.live import release
from apps.livepulse.params import Window

DEFAULT_BATCH = 5000
MAX_BATCH = 50000
TOTAL_HEADER = ("time_utc", "ts", "viewers", "live_streams", "unknown_streams")
STREAM_HEADER = ("time_utc", "ts", "stream_id", "platform", "stream", "viewers", "state")
KINDS = ("total", "streams", "stream")


@dataclass(frozen=True)
class CsvSpec:
    kind: str  # total | streams | stream
    event_id: int
    window: Window
    stream_id: int | None = None
    batch: int = DEFAULT_BATCH

    def file_name(self) -> str:
        what = f"stream-{self.stream_id}" if self.kind == "stream" else self.kind
        return f"livepulse-event-{self.event_id}-{what}-{self.window.start}-{self.window.end}.csv"


def _utc(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _total_chunks(db, spec: CsvSpec) -> Iterator[list[tuple]]:
    after, end = spec.window.start - 1, spec.window.end
    while True:
        rows = db.executesql(
            f"SELECT ts, viewers, live_streams, unknown_streams FROM lp_sample WHERE event_id = {spec.event_id} "
            f"AND ts > {after} AND ts <= {end} ORDER BY ts LIMIT {spec.batch}")
        release(db)
        if not rows:
            return
        yield [(_utc(ts), ts, viewers, live, unknown) for ts, viewers, live, unknown in rows]
        after = rows[-1][0]


def _stream_chunks(db, spec: CsvSpec, names: dict[int, tuple[str, str]]) -> Iterator[list[tuple]]:
    """One stream: keyset on (event_id, stream_id, ts)."""
    after, end = spec.window.start - 1, spec.window.end
    platform, name = names[spec.stream_id]
    while True:
        rows = db.executesql(
            f"SELECT ts, viewers, state FROM lp_stream_sample WHERE event_id = {spec.event_id} "
            f"AND stream_id = {spec.stream_id} AND ts > {after} AND ts <= {end} ORDER BY ts LIMIT {spec.batch}")
        release(db)
        if not rows:
            return
        yield [(_utc(ts), ts, spec.stream_id, platform, name, viewers, state) for ts, viewers, state in rows]
        after = rows[-1][0]


def _all_streams_chunks(db, spec: CsvSpec, names: dict[int, tuple[str, str]]) -> Iterator[list[tuple]]:
    """Every stream, by ts ranges of about `batch` rows: the totals' ts index gives the range end
    (one poll = one total + one row per stream)."""
    polls = max(1, spec.batch // max(1, len(names)))
    after, end = spec.window.start - 1, spec.window.end
    while after < end:
        boundary = db.executesql(
            f"SELECT ts FROM lp_sample WHERE event_id = {spec.event_id} AND ts > {after} AND ts <= {end} "
            f"ORDER BY ts LIMIT 1 OFFSET {polls - 1}")
        upper = boundary[0][0] if boundary else end
        rows = db.executesql(
            f"SELECT ts, stream_id, viewers, state FROM lp_stream_sample WHERE event_id = {spec.event_id} "
            f"AND ts > {after} AND ts <= {upper} ORDER BY ts, stream_id")
        release(db)
        if rows:
            chunk, last, stamp = [], None, ""
            for ts, sid, viewers, state in rows:
                if ts != last:
                    last, stamp = ts, _utc(ts)
                platform, name = names.get(sid, ("", ""))
                chunk.append((stamp, ts, sid, platform, name, viewers, state))
            yield chunk
        after = upper


def stream_names(db, event_id: int) -> dict[int, tuple[str, str]]:
    rows = db(db.lp_stream.event_id == event_id).select(db.lp_stream.id, db.lp_stream.platform,
                                                        db.lp_stream.external_id)
    return {row.id: (row.platform, row.external_id) for row in rows}


def csv_chunks(db, spec: CsvSpec, names: dict[int, tuple[str, str]] | None = None) -> Iterator[tuple[bytes, int]]:
    """(encoded CSV text, rows in it): the header first, then one item per fetched chunk."""
    names = names if names is not None else stream_names(db, spec.event_id)
    release(db)
    if spec.kind == "total":
        header, chunks = TOTAL_HEADER, _total_chunks(db, spec)
    elif spec.kind == "stream":
        header, chunks = STREAM_HEADER, _stream_chunks(db, spec, names)
    else:
        header, chunks = STREAM_HEADER, _all_streams_chunks(db, spec, names)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    yield buffer.getvalue().encode(), 0
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue().encode(), len(rows)


def count_rows(db, spec: CsvSpec) -> int:
    """How many data rows the CSV will have (for an export job's progress)."""
    table, stream = ("lp_sample", "") if spec.kind == "total" else ("lp_stream_sample", "")
    if spec.kind == "stream":
        stream = f" AND stream_id = {spec.stream_id}"
    count = db.executesql(f"SELECT COUNT(*) FROM {table} WHERE event_id = {spec.event_id}{stream} "
                          f"AND ts >= {spec.window.start} AND ts <= {spec.window.end}")[0][0]
    release(db)
    return int(count)
