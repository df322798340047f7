import datetime

import pytest

from apps.livepulse.rollup import roll_up_event
from tests.apps.livepulse.conftest import make_event, seed


def get_history(client, admin_headers, event_id, status=200, **params):
    return client.get(f"/livepulse/events/{event_id}/history", params=params, headers=admin_headers, status=status).json


def test_total_and_streams_with_statistics(client, admin_headers, db, event, now):
    event_id, (yt, tw) = event
    start = now - 150
    ids = seed(db, event_id, [yt, tw], start, 10)
    body = get_history(client, admin_headers, event_id, minutes=60, streams=1)
    assert body["bucketSeconds"] is None and body["lastId"] == ids[-1]
    assert body["total"]["points"] == [[start + 15 * i, 300 + 2 * i] for i in range(10)]
    # each sample stands until the next one: the first nine count 15 s each
    assert body["total"]["stats"] == {"current": 318, "currentTs": start + 135, "peak": 318, "average": 308.0,
                                      "hoursWatched": 11.55, "viewerSeconds": 41580, "seconds": 135}
    streams = {stream["id"]: stream for stream in body["streams"]}
    assert streams[yt]["platform"] == "youtube" and streams[tw]["externalId"] == "somestreamer"
    assert streams[yt]["points"][-1] == [start + 135, 109]
    assert streams[tw]["stats"]["peak"] == 209 and streams[tw]["stats"]["average"] == 204.0


def test_without_streams_only_the_total(client, admin_headers, event, db, now):
    event_id, streams = event
    seed(db, event_id, streams, now - 100, 3)
    body = get_history(client, admin_headers, event_id)
    assert "streams" not in body and len(body["total"]["points"]) == 3


def test_unknown_counts_are_gaps_not_zero(client, admin_headers, db, event, now):
    event_id, streams = event
    seed(db, event_id, streams, now - 60, 3, value=lambda i, k: None if i == 1 else 10)
    points = get_history(client, admin_headers, event_id)["total"]["points"]
    assert [value for _, value in points] == [20, None, 20]


def test_from_to_and_after_ts_select_the_window(client, admin_headers, db, event, now):
    event_id, streams = event
    start = now - 3600
    seed(db, event_id, streams, start, 20, step=60)
    iso = datetime.datetime.fromtimestamp(start + 300, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = get_history(client, admin_headers, event_id, **{"from": iso, "to": str(start + 600)})
    assert [ts for ts, _ in body["total"]["points"]] == [start + 60 * i for i in range(5, 11)]
    assert body["window"] == {"from": start + 300, "to": start + 600}
    later = get_history(client, admin_headers, event_id, afterTs=str(start + 1080))
    assert [ts for ts, _ in later["total"]["points"]] == [start + 1140]


def test_downsampling_keeps_the_peak_and_says_the_bucket(client, admin_headers, db, configure, now):
    configure(HISTORY_MAX_POINTS="50")
    event_id, streams = make_event(db)
    seed(db, event_id, streams, now - 7500, 500, value=lambda i, k: 99999 if (i, k) == (333, 1) else 10 + k)
    body = get_history(client, admin_headers, event_id, minutes=180, streams=1)
    assert body["bucketSeconds"] == 10800 // 48 + 1 and body["maxPoints"] == 50
    assert len(body["total"]["points"]) <= 50
    assert max(value for _, value in body["total"]["points"]) == 99999 + 10
    spiky = next(stream for stream in body["streams"] if stream["id"] == streams[1])
    assert len(spiky["points"]) <= 50 and max(value for _, value in spiky["points"]) == 99999
    assert body["total"]["stats"]["peak"] == 99999 + 10  # statistics use every sample
    fewer = get_history(client, admin_headers, event_id, minutes=180, limit=20)
    # 601 s needed; from the roll-up size on, buckets are whole roll-up buckets
    assert len(fewer["total"]["points"]) <= 20 and fewer["bucketSeconds"] == 900


def test_wide_windows_read_the_rollups_with_the_same_statistics(client, admin_headers, db, configure, now):
    configure(HISTORY_MAX_POINTS="10")
    event_id, streams = make_event(db)
    start = now - now % 300 - 8 * 3600
    seed(db, event_id, streams, start, 480, step=60, value=lambda i, k: 5000 if (i, k) == (100, 0) else i % 7 + k)
    raw = get_history(client, admin_headers, event_id, minutes=600, streams=1)
    assert roll_up_event(db, event_id, now) > 0
    rolled = get_history(client, admin_headers, event_id, minutes=600, streams=1)
    assert rolled["bucketSeconds"] == 4800 and len(rolled["total"]["points"]) <= 10
    assert max(value for _, value in rolled["total"]["points"]) == 5000 + 100 % 7 + 1
    for key in ("peak", "viewerSeconds", "seconds", "current"):
        assert rolled["total"]["stats"][key] == raw["total"]["stats"][key], key
    assert [s["stats"]["viewerSeconds"] for s in rolled["streams"]] == [
        s["stats"]["viewerSeconds"] for s in raw["streams"]]


@pytest.mark.parametrize("params, message", [
    ({"minutes": "10081"}, "minutes must be between 1 and 10080"),
    ({"minutes": "soon"}, "minutes must be a whole number"),
    ({"from": "yesterday"}, "from must be an ISO 8601"),
    ({"to": "2024-13-45"}, "to must be an ISO 8601"),
    ({"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, "from must not be after to"),
    ({"from": "2024-01-01", "to": "2024-03-01"}, "at most MAX_HISTORY_MINUTES (10080)"),
    ({"limit": "5"}, "limit must be between 10 and 2000"),
    ({"afterTs": "later"}, "afterTs must be"),
])
def test_bad_parameters_are_400_naming_them(client, admin_headers, event, params, message):
    body = get_history(client, admin_headers, event[0], status=400, **params)
    assert body["status"] == 400 and message in body["message"]


def test_unknown_event_is_404(client, admin_headers, db):
    assert get_history(client, admin_headers, 999, status=404)["message"] == "no event 999"
