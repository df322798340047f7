import threading

from apps.livepulse import workers
from apps.livepulse.rollup import purge_event, roll_up_event
from apps.livepulse.samples import Reading, record_poll
from tests.apps.livepulse.conftest import make_event, seed

B = 1_700_000_100  # a bucket start (multiple of 300)


def rollups(db, event_id):
    rows = db(db.lp_rollup.event_id == event_id).select(orderby=db.lp_rollup.stream_id | db.lp_rollup.ts)
    return [(row.stream_id, row.ts - B, row.max_viewers, round(row.avg_viewers, 2), row.seconds) for row in rows]


def test_buckets_keep_the_maximum_and_the_time_weighted_average(db):
    event_id, (sid,) = make_event(db, streams=(("youtube", "aaaaaaaaaaa"),))
    for offset, viewers in ((0, 10), (60, 20), (120, None), (180, 40), (360, 50), (600, 60)):
        record_poll(db, event_id, B + offset, [Reading(sid, "live" if viewers else "unknown", viewers)])
    db.commit()
    assert roll_up_event(db, event_id, now=B + 1200) == 6
    # bucket 0: 10 for 60 s, 20 for 120 s (the unknown sample does not cut it), 40 for 180 s
    expected = [(0, 40, 28.33, 360), (300, 50, 50.0, 240), (600, 60, 60.0, 0)]
    assert rollups(db, event_id) == [(0, *row) for row in expected] + [(sid, *row) for row in expected]
    assert db.lp_event(event_id).rolled_until == B + 900
    assert roll_up_event(db, event_id, now=B + 1200) == 0  # nothing final is left


def test_a_bucket_is_not_final_while_a_sample_may_still_extend_it(db):
    event_id, streams = make_event(db)
    seed(db, event_id, streams, B, 10, step=30)
    assert roll_up_event(db, event_id, now=B + 599) == 0
    assert roll_up_event(db, event_id, now=B + 600) == 3  # total + 2 streams for the first bucket


def test_retention_purges_rolled_up_raw_samples_and_history_falls_back_to_rollups(
        client, admin_headers, db, configure, now):
    configure(SAMPLE_RETENTION_DAYS="1")
    event_id, streams = make_event(db)
    old = now - now % 300 - 3 * 86400
    seed(db, event_id, streams, old, 120, step=60, value=lambda i, k: 7 if i == 50 and k == 0 else 1)
    seed(db, event_id, streams, now - 600, 5, step=60)
    roll_up_event(db, event_id, now)
    assert purge_event(db, event_id, now, retention_days=1) == 120 * 3
    assert db(db.lp_sample.event_id == event_id).count() == 5
    assert db.lp_event(event_id).raw_from <= now - 86400
    window = {"from": str(old), "to": str(old + 7200)}
    body = client.get(f"/livepulse/events/{event_id}/history", params=window, headers=admin_headers).json
    assert [ts - old for ts, _ in body["total"]["points"]] == list(range(0, 7200, 300))
    assert max(value for _, value in body["total"]["points"]) == 8
    csv_text = client.get(f"/livepulse/events/{event_id}/history.csv", params=window, headers=admin_headers).text
    assert csv_text.splitlines()[1:] == []  # CSV exports raw samples, kept SAMPLE_RETENTION_DAYS


def test_the_maintenance_service_rolls_up_and_stops(db, now, monkeypatch):
    event_id, streams = make_event(db)
    seed(db, event_id, streams, now - 3600, 10, step=60)
    stop = threading.Event()
    monkeypatch.setattr(stop, "wait", lambda seconds: stop.set())
    workers.maintain(stop)
    assert db(db.lp_rollup.event_id == event_id).count() > 0
