import csv
import io

from webob import Request

from tests.apps.livepulse.conftest import make_event, seed


def rows(response):
    return list(csv.reader(io.StringIO(response.text)))


def test_total_csv_is_streamed_in_chunks(wsgi_app, admin_headers, db, event, now):
    event_id, streams = event
    seed(db, event_id, streams, now - 600, 250, step=2)
    request = Request.blank(f"/livepulse/events/{event_id}/history.csv?batch=100", headers=admin_headers)
    status, headers, body = request.call_application(wsgi_app)
    chunks = list(body)
    assert status.startswith("200") and "Content-Length" not in dict(headers)
    assert len(chunks) == 1 + 3  # the header, then one chunk per 100 rows
    assert b"".join(chunks).count(b"\n") == 251


def test_total_csv_has_every_sample(client, admin_headers, db, event, now):
    event_id, streams = event
    start = now - 600
    seed(db, event_id, streams, start, 30, step=10)
    response = client.get(f"/livepulse/events/{event_id}/history.csv?minutes=60&batch=100", headers=admin_headers)
    assert response.content_type == "text/csv"
    assert f'livepulse-event-{event_id}-total-' in response.headers["Content-Disposition"]
    table = rows(response)
    assert table[0] == ["time_utc", "ts", "viewers", "live_streams", "unknown_streams"]
    assert len(table) == 31
    assert table[1][1:] == [str(start), "300", "2", "0"]
    assert table[1][0].endswith("Z") and table[-1][1] == str(start + 290)


def test_one_stream_csv(client, admin_headers, db, event, now):
    event_id, (yt, tw) = event
    seed(db, event_id, [yt, tw], now - 100, 5)
    table = rows(client.get(f"/livepulse/events/{event_id}/streams/{tw}/history.csv", headers=admin_headers))
    assert table[0] == ["time_utc", "ts", "stream_id", "platform", "stream", "viewers", "state"]
    assert [row[2:] for row in table[1:]] == [[str(tw), "twitch", "somestreamer", str(200 + i), "live"]
                                              for i in range(5)]


def test_all_streams_csv_in_small_chunks_keeps_order_and_every_row(client, admin_headers, db, event, now):
    event_id, (yt, tw) = event
    start = now - 3000
    seed(db, event_id, [yt, tw], start, 130, step=15)
    response = client.get(f"/livepulse/events/{event_id}/streams/history.csv", params={"batch": "100"},
                          headers=admin_headers)
    table = rows(response)[1:]
    assert len(table) == 260
    assert [(int(row[1]), int(row[2])) for row in table] == [
        (start + 15 * i, sid) for i in range(130) for sid in (yt, tw)]


def test_a_stream_of_another_event_is_404(client, admin_headers, db, event):
    event_id, _ = event
    _, (other_stream, _) = make_event(db, name="Other")
    body = client.get(f"/livepulse/events/{event_id}/streams/{other_stream}/history.csv", headers=admin_headers,
                      status=404).json
    assert body["message"] == f"event {event_id} has no stream {other_stream}"


def test_csv_bad_input(client, admin_headers, event):
    event_id, _ = event
    assert "batch must be between" in client.get(f"/livepulse/events/{event_id}/history.csv?batch=1",
                                                 headers=admin_headers, status=400).json["message"]
    assert "from must be" in client.get(f"/livepulse/events/{event_id}/streams/history.csv?from=noon",
                                        headers=admin_headers, status=400).json["message"]
    client.get("/livepulse/events/999/history.csv", headers=admin_headers, status=404)
