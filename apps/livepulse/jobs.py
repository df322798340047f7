"""CSV export jobs: queued by the API, run by the worker's export service, written under
var/exports, downloadable until EXPORT_RETENTION_HOURS after they finish, then deleted."""

from __future__ import annotations

import datetime
import logging
import os
import time
from pathlib import Path

from apps.livepulse.csvexport import CsvSpec, count_rows, csv_chunks
from apps.livepulse.params import Window
from shared.crypto import new_token
from shared.db import transaction, utcnow
from shared.settings import get_settings

log = logging.getLogger(__name__)
STALE = datetime.timedelta(minutes=10)  # a running job silent this long is taken over


def exports_folder() -> Path:
    folder = get_settings().var_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def create_job(db, spec: CsvSpec) -> str:
    job_id = new_token(16)
    db.lp_export_job.insert(job_id=job_id, event_id=spec.event_id, kind=spec.kind, stream_id=spec.stream_id,
                            from_ts=spec.window.start, to_ts=spec.window.end, state="queued", created_at=utcnow())
    return job_id


def job_spec(job) -> CsvSpec:
    return CsvSpec(job.kind, int(job.event_id), Window(int(job.from_ts), int(job.to_ts)),
                   int(job.stream_id) if job.stream_id is not None else None)


def job_status(job) -> dict:
    status = {"jobId": job.job_id, "state": job.state, "progress": round(job.progress, 3), "rows": job.row_count,
              "eventId": job.event_id, "type": job.kind}
    if job.state == "done":
        status["downloadUrl"] = f"/livepulse/exports/{job.job_id}/download"
        status["expiresAt"] = job.expires_at.isoformat() + "Z"
    if job.error:
        status["error"] = job.error
    return status


def job_path(job) -> Path:
    return exports_folder() / f"{job.job_id}.csv"


def claim_next(db):
    """Take the oldest queued job (or a running one whose worker went silent); None if none."""
    stale = utcnow() - STALE
    query = (db.lp_export_job.state == "queued") | (
        (db.lp_export_job.state == "running") & (db.lp_export_job.updated_at < stale))
    for job in db(query).select(orderby=db.lp_export_job.id, limitby=(0, 5)):
        claimed = db((db.lp_export_job.id == job.id) & (db.lp_export_job.state == job.state)
                     & (db.lp_export_job.updated_at == job.updated_at)).update(
            state="running", started_at=utcnow(), updated_at=utcnow(), progress=0, row_count=0)
        db.commit()
        if claimed:
            return db.lp_export_job(job.id)
    db.commit()
    return None


def run_job(db, job) -> None:
    """Write the job's CSV to var/exports (via a .part file), updating progress per chunk."""
    spec, path = job_spec(job), job_path(job)
    partial = path.with_suffix(".part")
    expected = max(1, count_rows(db, spec))
    written = 0
    try:
        with partial.open("wb") as out:
            for data, rows in csv_chunks(db, spec):
                out.write(data)
                written += rows
                with transaction(db):
                    db(db.lp_export_job.id == job.id).update(
                        row_count=written, progress=min(1.0, written / expected), updated_at=utcnow())
        os.replace(partial, path)
    except Exception as err:
        partial.unlink(missing_ok=True)
        log.exception("livepulse export %s failed", job.id)
        with transaction(db):
            db(db.lp_export_job.id == job.id).update(state="failed", error=f"{err.__class__.__name__}: {err}"[:500],
                                                     finished_at=utcnow(), expires_at=_expiry())
        return
    with transaction(db):
        db(db.lp_export_job.id == job.id).update(state="done", progress=1.0, row_count=written, file_name=path.name,
                                                 finished_at=utcnow(), updated_at=utcnow(), expires_at=_expiry())


def _expiry() -> datetime.datetime:
    return utcnow() + datetime.timedelta(hours=get_settings().export_retention_hours)


def cleanup(db) -> int:
    """Delete finished jobs past their expiry with their files, and files whose job is gone
    (its event was deleted) once they are as old; returns how many jobs."""
    expired = db((db.lp_export_job.expires_at != None) & (db.lp_export_job.expires_at < utcnow())).select()  # noqa: E711
    for job in expired:
        job_path(job).unlink(missing_ok=True)
        db(db.lp_export_job.id == job.id).delete()
    known = {row.job_id for row in db(db.lp_export_job).select(db.lp_export_job.job_id)}
    db.commit()
    oldest = time.time() - get_settings().export_retention_hours * 3600
    for path in exports_folder().glob("*.*"):
        if path.stem not in known and path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)
    return len(expired)

