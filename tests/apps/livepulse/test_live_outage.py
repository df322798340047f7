"""While Redis does not answer, the live feed reads new samples from the database, and says so once."""

from __future__ import annotations

import logging

from apps.livepulse import live
from apps.livepulse.live import hub
from tests.apps.livepulse.conftest import seed
from tests.conftest import TEST_ENV
from tests.waiting import wait_until


def test_the_live_feed_falls_back_to_the_database_while_redis_is_down(db, event, now, configure, monkeypatch,
                                                                      caplog):
    caplog.set_level(logging.INFO, logger="apps.livepulse.live")
    monkeypatch.setattr(live, "REDIS_RETRY_SECONDS", 0.05)  # try Redis (and fail) many times meanwhile
    configure(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens there
    event_id, streams = event
    try:
        with hub.listening(event_id):
            wait_until(lambda: hub._feeds[event_id].last_ts is not None)  # old code: never looked
            (sample_id,) = seed(db, event_id, streams, now, 1)  # written by the poller of another process
            frames = hub.wait(event_id, 0, timeout=5)
            assert frames and frames[0][0] == now and f"id: {sample_id}".encode() in frames[0][1]
    finally:
        configure(REDIS_URL=TEST_ENV["REDIS_URL"])  # the clean-up empties the test's Redis keys
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Redis failed" in warnings[0].getMessage()
    assert not any(record.exc_info for record in caplog.records)
