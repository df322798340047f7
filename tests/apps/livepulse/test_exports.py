import datetime
import threading

import pytest

from apps.livepulse import jobs, workers
from shared.db import utcnow
from tests.apps.livepulse.conftest import make_event, seed


def run_worker_once():
    """The export service until it is idle."""
    stop = threading.Event()
    stop.wait = lambda seconds: stop.set()
    workers.export(stop)


def start_export(client, admin_headers, event_id, body, status=202):
    return client.post_json(f"/livepulse/events/{event_id}/export", body, headers=admin_headers, status=status).json


def test_export_job_lifecycle(client, admin_headers, db, event, now):
    event_id, streams = event
    seed(db, event_id, streams, now - 300, 20)
    started = start_export(client, admin_headers, event_id, {"type": "streams", "minutes": 60})
    job_id = started["jobId"]
    assert started["statusUrl"] == f"/livepulse/exports/{job_id}/status"
    status = client.get(f"/livepulse/exports/{job_id}/status", headers=admin_headers).json
    assert (status["state"], status["progress"], status["rows"]) == ("queued", 0, 0)
    assert client.get(f"/livepulse/exports/{job_id}/download", headers=admin_headers, status=409).json["state"] == \
        "queued"

    run_worker_once()
    status = client.get(f"/livepulse/exports/{job_id}/status", headers=admin_headers).json
    assert (status["state"], status["progress"], status["rows"]) == ("done", 1.0, 40)
    assert status["downloadUrl"] == f"/livepulse/exports/{job_id}/download"
    download = client.get(status["downloadUrl"], headers=admin_headers)
    assert download.content_type == "text/csv" and "attachment" in download.headers["Content-Disposition"]
    assert len(download.text.splitlines()) == 41
    assert (jobs.exports_folder() / f"{job_id}.csv").exists()


def test_expired_exports_are_deleted_with_their_file(client, admin_headers, db, event, now):
    event_id, streams = event
    seed(db, event_id, streams, now - 100, 3)
    job_id = start_export(client, admin_headers, event_id, {"type": "total"})["jobId"]
    run_worker_once()
    path = jobs.exports_folder() / f"{job_id}.csv"
    assert path.exists()
    db(db.lp_export_job.job_id == job_id).update(expires_at=utcnow() - datetime.timedelta(seconds=1))
    db.commit()
    run_worker_once()
    assert not path.exists()
    client.get(f"/livepulse/exports/{job_id}/status", headers=admin_headers, status=404)


def test_a_single_stream_export_and_a_failing_one(client, admin_headers, db, event, now, monkeypatch):
    event_id, (yt, _) = event
    seed(db, event_id, [yt], now - 100, 4)
    job_id = start_export(client, admin_headers, event_id,
                          {"type": "stream", "sid": yt, "from": str(now - 200)})["jobId"]
    run_worker_once()
    assert client.get(f"/livepulse/exports/{job_id}/status", headers=admin_headers).json["rows"] == 4

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(jobs, "csv_chunks", broken)
    failing = start_export(client, admin_headers, event_id, {"type": "total"})["jobId"]
    run_worker_once()
    status = client.get(f"/livepulse/exports/{failing}/status", headers=admin_headers).json
    assert status["state"] == "failed" and status["error"] == "OSError: disk full"
    assert not list(jobs.exports_folder().glob(f"{failing}.*"))


@pytest.mark.parametrize("body, status, message", [
    ({"type": "everything"}, 400, "type must be one of total, streams, stream"),
    ({"type": "stream"}, 400, "sid (the stream id) is required"),
    ({"type": "stream", "sid": 999}, 404, "has no stream 999"),
    ({"type": "total", "from": "noon"}, 400, "from must be an ISO 8601"),
    ({"type": "total", "minutes": 99999}, 400, "minutes must be between"),
    ({"type": "total", "from": "2024-05-02", "to": "2024-05-01"}, 400, "from must not be after to"),
])
def test_bad_export_requests_store_nothing(client, admin_headers, db, event, body, status, message):
    answer = start_export(client, admin_headers, event[0], body, status=status)
    assert message in answer["message"]
    assert db(db.lp_export_job).count() == 0


def test_export_needs_a_json_object_and_a_known_event(client, admin_headers, db, event):
    answer = client.post(f"/livepulse/events/{event[0]}/export", "type=total", headers=admin_headers, status=400).json
    assert "send a JSON object" in answer["message"]
    start_export(client, admin_headers, 999, {"type": "total"}, status=404)
    _, (other_stream, _) = make_event(db, name="Other")
    start_export(client, admin_headers, event[0], {"type": "stream", "sid": other_stream}, status=404)
    client.get("/livepulse/exports/nope/status", headers=admin_headers, status=404)
