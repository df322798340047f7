"""livepulse test helpers: an event with streams, samples written the way the poller writes them."""

from __future__ import annotations

import time

import pytest

from apps.livepulse.live import hub
from apps.livepulse.samples import Reading, record_poll
from shared.db import utcnow

YT_VIDEOS = "https://www.googleapis.com/youtube/v3/videos"


@pytest.fixture(autouse=True)
def forget_live_frames():
    """Tables are emptied between tests (ids restart): the hub must not serve old frames."""
    hub.forget()
    yield
    hub.forget()


def make_event(db, name: str = "Launch day", streams: tuple[tuple[str, str], ...] = (
        ("youtube", "aaaaaaaaaaa"), ("twitch", "somestreamer"))) -> tuple[int, list[int]]:
    now = utcnow()
    event_id = db.lp_event.insert(name=name, description="", created_at=now, updated_at=now)
    stream_ids = [db.lp_stream.insert(event_id=event_id, platform=platform, external_id=external, state="live",
                                      created_at=now) for platform, external in streams]
    db.commit()
    return event_id, stream_ids


def seed(db, event_id: int, stream_ids: list[int], start: int, count: int, step: int = 15, value=None) -> list[int]:
    """`count` polls from `start`, every `step` s; value(i, k) gives stream k's viewers at poll i."""
    value = value or (lambda i, k: 100 * (k + 1) + i)
    ids = []
    for i in range(count):
        readings = [Reading(sid, "live", value(i, k)) for k, sid in enumerate(stream_ids)]
        ids.append(record_poll(db, event_id, start + i * step, readings))
    db.commit()
    return ids


@pytest.fixture
def event(db):
    """(event id, [youtube stream id, twitch stream id])."""
    return make_event(db)


@pytest.fixture
def now() -> int:
    return int(time.time())
