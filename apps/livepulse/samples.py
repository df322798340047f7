"""Viewer samples: writing one poll (an event total plus one row per stream, in the caller's
transaction) and reading them back as live-feed payloads, in bounded chunks keyed by `ts`
(unique per event), each chunk one short query."""

from __future__ import annotations

import json
from dataclasses import dataclass

CHUNK = 500  # samples per read: bounds memory and the time a connection is held


@dataclass(frozen=True)
class Reading:
    """One stream's value in one poll. viewers None = unknown (hidden, not started, no answer)."""

    stream_id: int
    state: str
    viewers: int | None


def last_ts(db, event_id: int) -> int | None:
    row = db.executesql(f"SELECT MAX(ts) FROM lp_sample WHERE event_id = {int(event_id)}")
    return row[0][0] if row and row[0][0] is not None else None


def record_poll(db, event_id: int, ts: int, readings: list[Reading]) -> int:
    """Write the event total and every stream's reading at `ts`; returns the total sample id.
    The total is the sum of the known counts, NULL when no count was known."""
    known = [reading.viewers for reading in readings if reading.viewers is not None]
    sample_id = db.lp_sample.insert(
        event_id=event_id, ts=ts, viewers=sum(known) if known else None, live_streams=len(known),
        unknown_streams=sum(1 for reading in readings if reading.state == "unknown"))
    db.lp_stream_sample.bulk_insert([
        {"event_id": event_id, "stream_id": reading.stream_id, "ts": ts, "viewers": reading.viewers,
         "state": reading.state} for reading in readings])
    return sample_id


def payloads_after(db, event_id: int, after_ts: int, until_ts: int | None = None, limit: int = CHUNK) -> list[dict]:
    """Up to `limit` samples with ts > after_ts (and ≤ until_ts), oldest first, each as the
    live-feed payload {id, ts, total, live, unknown, streams: {sid: viewers}, states: {sid: state}}."""
    event_id, after_ts, limit = int(event_id), int(after_ts), int(limit)
    until = f" AND ts <= {int(until_ts)}" if until_ts is not None else ""
    totals = db.executesql(
        f"SELECT id, ts, viewers, live_streams, unknown_streams FROM lp_sample WHERE event_id = {event_id} "
        f"AND ts > {after_ts}{until} ORDER BY ts LIMIT {limit}")
    if not totals:
        return []
    first, last = totals[0][1], totals[-1][1]
    payloads = {ts: {"id": sample_id, "ts": ts, "total": viewers, "live": live, "unknown": unknown,
                     "streams": {}, "states": {}}
                for sample_id, ts, viewers, live, unknown in totals}
    for ts, stream_id, viewers, state in db.executesql(
            f"SELECT ts, stream_id, viewers, state FROM lp_stream_sample WHERE event_id = {event_id} "
            f"AND ts >= {first} AND ts <= {last}"):
        payload = payloads.get(ts)
        if payload is not None:
            payload["streams"][str(stream_id)] = viewers
            payload["states"][str(stream_id)] = state
    return list(payloads.values())


def sse_frame(payload: dict) -> bytes:
    """One Server-Sent Event: the sample id as `id:` (for Last-Event-ID), the payload as JSON."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {payload['id']}\nevent: sample\ndata: {data}\n\n".encode()


def ts_of_sample(db, event_id: int, sample_id: int) -> int | None:
    """The ts of a sample of this event (resuming from a Last-Event-ID), None if unknown."""
    row = db.executesql(f"SELECT ts FROM lp_sample WHERE id = {int(sample_id)} AND event_id = {int(event_id)}")
    return row[0][0] if row else None
