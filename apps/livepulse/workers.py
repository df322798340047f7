"""The livepulse background services the worker runs: the poller (singleton), the roll-up and
retention pass (singleton), and the CSV export jobs (any number of workers)."""

from __future__ import annotations

import logging
import threading
import time

from apps.livepulse import jobs, rollup
from apps.livepulse.poller import MAX_WAIT, Poller
from shared.db import get_db
from shared.settings import get_settings

log = logging.getLogger(__name__)
MAINTENANCE_SECONDS = 60.0
EXPORT_IDLE_SECONDS = 1.0


def poll(stop: threading.Event) -> None:
    """Poll every stream until stopped; an unexpected error is logged and backed off, never fatal."""
    poller = Poller()
    while not stop.is_set():
        started = time.monotonic()
        try:
            wait = poller.poll_once()
        except Exception:
            poller.failures += 1
            wait = min(MAX_WAIT, get_settings().poll_interval_seconds * 2 ** poller.failures)
            log.exception("livepulse poll failed; next try in %.0f s", wait)
        stop.wait(max(0.0, wait - (time.monotonic() - started)))


def maintain(stop: threading.Event) -> None:
    """Roll finished 5-minute buckets up and purge raw samples past SAMPLE_RETENTION_DAYS."""
    db = get_db()
    while not stop.is_set():
        rollup.maintain(db, time.time(), get_settings().sample_retention_days)
        stop.wait(MAINTENANCE_SECONDS)


def export(stop: threading.Event) -> None:
    """Run queued export jobs one after the other; delete expired exports."""
    db = get_db()
    while not stop.is_set():
        jobs.cleanup(db)
        job = jobs.claim_next(db)
        if job is None:
            stop.wait(EXPORT_IDLE_SECONDS)
            continue
        jobs.run_job(db, job)
