import json

import pytest
import requests

from apps.livepulse import sse as sse_module
from apps.livepulse.access import public_link
from apps.livepulse.live import channel, publish
from apps.livepulse.samples import Reading, record_poll
from shared import guard
from shared.redis_client import get_redis
from tests.apps.livepulse.conftest import seed
from tests.waiting import wait_until


class SseClient:
    """Reads a text/event-stream response block by block (a block ends with a blank line)."""

    def __init__(self, response: requests.Response):
        self.response = response

    def block(self) -> list[str]:
        lines = []
        while True:
            line = self.response.raw.readline().decode().rstrip("\n")
            if not line and lines:
                return lines
            if line:
                lines.append(line)

    def sample(self) -> tuple[int, dict]:
        """The next sample event (id, payload), skipping heartbeats."""
        while True:
            fields = dict(line.split(": ", 1) for line in self.block() if not line.startswith(":"))
            if fields.get("event") == "sample":
                return int(fields["id"]), json.loads(fields["data"])


@pytest.fixture
def open_stream(live_server, configure, admin_headers):
    configure(SSE_HEARTBEAT_SECONDS="0.3")
    opened, held_before = [], guard.stream_slots().held()

    def connect(event_id, params=None, headers=None, auth=True):
        response = requests.get(f"{live_server}/livepulse/events/{event_id}/stream", params=params or {},
                                headers={**(admin_headers if auth else {}), **(headers or {})}, stream=True,
                                timeout=(3, 5))
        opened.append(response)
        return response

    yield connect
    for response in opened:
        response.close()
    # the server gives a stream's slot back when its next heartbeat finds the client gone
    wait_until(lambda: guard.stream_slots().held() <= held_before)


def new_sample(db, event_id, streams, ts, viewers):
    sample_id = record_poll(db, event_id, ts, [Reading(sid, "live", viewers) for sid in streams])
    db.commit()
    return sample_id


def test_history_first_then_each_new_sample(db, event, now, open_stream):
    event_id, streams = event
    ids = seed(db, event_id, streams, now - 120, 3)
    response = open_stream(event_id, {"minutes": "10"})
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-cache"
    sse = SseClient(response)
    assert sse.block() == ["retry: 3000"]
    history = [sse.sample() for _ in ids]
    assert [sample_id for sample_id, _ in history] == ids
    assert history[0][1] == {"id": ids[0], "ts": now - 120, "total": 300, "live": 2, "unknown": 0,
                             "streams": {str(streams[0]): 100, str(streams[1]): 200},
                             "states": {str(streams[0]): "live", str(streams[1]): "live"}}
    fresh = new_sample(db, event_id, streams, now, 50)
    publish(event_id)
    sample_id, payload = sse.sample()
    assert (sample_id, payload["total"], payload["ts"]) == (fresh, 100, now)


def test_last_event_id_resumes_after_that_sample(db, event, now, open_stream):
    event_id, streams = event
    ids = seed(db, event_id, streams, now - 300, 5)
    sse = SseClient(open_stream(event_id, {"minutes": "60"}, headers={"Last-Event-ID": str(ids[2])}))
    assert [sse.sample()[0], sse.sample()[0]] == ids[3:]
    fresh = new_sample(db, event_id, streams, now, 1)
    publish(event_id)
    assert sse.sample()[0] == fresh


def test_a_comment_heartbeat_while_idle(db, event, open_stream):
    sse = SseClient(open_stream(event[0], {"minutes": "0"}))
    assert sse.block() == ["retry: 3000"]
    assert sse.block() == [": heartbeat"]
    assert sse.block() == [": heartbeat"]


def test_a_stream_ends_after_its_lifetime_for_the_browser_to_reconnect(db, event, open_stream, monkeypatch):
    monkeypatch.setattr(sse_module, "MAX_STREAM_SECONDS", 0.5)
    body = open_stream(event[0], {"minutes": "0"}).raw.read()  # returns once the server ends the response
    assert body.startswith(b"retry: 3000\n\n")


def test_a_sample_written_by_another_process_arrives(db, event, now, open_stream):
    """The poller runs in the worker: the web process learns of samples through Redis, or by
    polling the database when there is no Redis."""
    event_id, streams = event
    sse = SseClient(open_stream(event_id, {"minutes": "0"}))
    assert sse.block() == ["retry: 3000"]
    fresh = new_sample(db, event_id, streams, now + 5, 7)  # minutes=0: only samples newer than the request
    redis = get_redis()
    if redis is not None:
        redis.publish(channel(event_id), b"1")
    assert sse.sample()[0] == fresh


def test_the_public_link_opens_the_stream(db, event, open_stream):
    event_id, _ = event
    token = public_link(db.lp_event(event_id), 1).split("token=")[1]
    response = open_stream(event_id, {"minutes": "0", "token": token}, auth=False)
    assert response.status_code == 200 and SseClient(response).block() == ["retry: 3000"]


def test_stream_errors(client, admin_headers, event):
    event_id, _ = event
    assert client.get(f"/livepulse/events/{event_id}/stream", status=401).json["status"] == 401
    client.get("/livepulse/events/999/stream", headers=admin_headers, status=404)
    assert "minutes must be between 0 and 10080" in client.get(
        f"/livepulse/events/{event_id}/stream?minutes=-1", headers=admin_headers, status=400).json["message"]
    assert "Last-Event-ID must be a whole number" in client.get(
        f"/livepulse/events/{event_id}/stream", headers={**admin_headers, "Last-Event-ID": "x"},
        status=400).json["message"]
