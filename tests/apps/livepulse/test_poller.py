import datetime
import threading

import pytest
import responses

from apps.livepulse import quota, workers
from apps.livepulse.poller import Poller
from tests.apps.livepulse.conftest import YT_VIDEOS, make_event

# Saturday 2024-03-09 20:00 UTC = 12:00 PST; the next Pacific midnight is 2024-03-10 08:00 UTC
CLOCK = datetime.datetime(2024, 3, 9, 20, 0, tzinfo=datetime.UTC).timestamp()
RESET = datetime.datetime(2024, 3, 10, 8, 0, tzinfo=datetime.UTC).timestamp()
HELIX_STREAMS = "https://api.twitch.tv/helix/streams"
TWITCH_TOKEN = "https://id.twitch.tv/oauth2/token"


@pytest.fixture
def youtube(configure):
    configure(YT_API_KEY="test-yt-key", POLL_INTERVAL_SECONDS="15")


def item(video_id, **details):
    return {"id": video_id, "snippet": {"title": f"Stream {video_id}", "channelTitle": "Channel"},
            "liveStreamingDetails": details}


def samples(db, event_id):
    total = db(db.lp_sample.event_id == event_id).select(orderby=db.lp_sample.ts)
    streams = db(db.lp_stream_sample.event_id == event_id).select(orderby=db.lp_stream_sample.stream_id)
    return list(total), list(streams)


@responses.activate
def test_live_hidden_ended_and_unavailable_streams(db, youtube):
    event_id, ids = make_event(db, streams=tuple(("youtube", f"video{n}xxxx") for n in range(4)))
    responses.get(YT_VIDEOS, json={"items": [
        item("video0xxxx", concurrentViewers="1500", activeLiveChatId="c"),
        item("video1xxxx", actualStartTime="2024-03-09T19:00:00Z"),  # the owner hides the count
        item("video2xxxx", actualEndTime="2024-03-09T19:30:00Z")]})  # video3 is missing: unavailable
    Poller(clock=lambda: CLOCK).poll_once()

    assert responses.calls[0].request.params["key"] == "test-yt-key"
    total, streams = samples(db, event_id)
    assert [(row.ts, row.viewers, row.live_streams, row.unknown_streams) for row in total] == [(int(CLOCK), 1500, 1, 1)]
    assert [(row.stream_id, row.state, row.viewers) for row in streams] == [
        (ids[0], "live", 1500), (ids[1], "unknown", None), (ids[2], "ended", None), (ids[3], "unavailable", None)]
    assert [(row.state, row.viewers, row.title) for row in db(db.lp_stream).select(orderby=db.lp_stream.id)] == [
        ("live", 1500, "Stream video0xxxx"), ("unknown", None, "Stream video1xxxx"),
        ("ended", None, "Stream video2xxxx"), ("unavailable", None, None)]
    assert quota.status(db, CLOCK, 10000).units == 1

    Poller(clock=lambda: CLOCK + 15).poll_once()  # an ended broadcast is not asked again
    assert responses.calls[1].request.params["id"] == "video0xxxx,video1xxxx,video3xxxx"


@responses.activate
def test_more_than_50_streams_take_two_calls_and_two_units(db, youtube):
    event_id, _ = make_event(db, streams=tuple(("youtube", f"v{n:010d}") for n in range(51)))

    def answer(request):
        ids = request.params["id"].split(",")
        return 200, {}, __import__("json").dumps({"items": [item(video, concurrentViewers="2") for video in ids]})

    responses.add_callback(responses.GET, YT_VIDEOS, callback=answer)
    Poller(clock=lambda: CLOCK).poll_once()
    assert [len(call.request.params["id"].split(",")) for call in responses.calls] == [50, 1]
    total, streams = samples(db, event_id)
    assert [row.viewers for row in total] == [102] and len(streams) == 51
    assert quota.status(db, CLOCK, 10000).units == 2


@responses.activate
def test_quota_exceeded_pauses_until_the_pacific_midnight_reset(db, youtube):
    event_id, _ = make_event(db, streams=(("youtube", "aaaaaaaaaaa"),))
    responses.get(YT_VIDEOS, status=403, json={"error": {"code": 403, "message": "quota",
                                                         "errors": [{"reason": "quotaExceeded"}]}})
    wait = Poller(clock=lambda: CLOCK).poll_once()
    ledger = quota.status(db, CLOCK, 10000)
    assert ledger.paused_until == RESET and ledger.units == 1
    assert wait == 300  # re-checks every 5 minutes for new streams, without calling YouTube
    assert samples(db, event_id)[0] == []

    Poller(clock=lambda: RESET - 60).poll_once()
    assert len(responses.calls) == 1  # paused: no call
    responses.replace(responses.GET, YT_VIDEOS, json={"items": [item("aaaaaaaaaaa", concurrentViewers="7")]})
    Poller(clock=lambda: RESET + 1).poll_once()
    assert len(responses.calls) == 2
    assert [row.viewers for row in samples(db, event_id)[0]] == [7]


@responses.activate
def test_other_errors_are_logged_and_backed_off_without_writing(db, youtube, caplog):
    event_id, _ = make_event(db, streams=(("youtube", "aaaaaaaaaaa"),))
    responses.get(YT_VIDEOS, status=500, json={"error": {"code": 500, "message": "backend error",
                                                         "errors": [{"reason": "backendError"}]}})
    poller = Poller(clock=lambda: CLOCK)
    assert [poller.poll_once(), poller.poll_once()] == [30, 60]
    assert samples(db, event_id)[0] == []
    assert "backendError" in caplog.text
    assert "backendError" in quota.status(db, CLOCK, 10000).last_error
    responses.replace(responses.GET, YT_VIDEOS, json={"items": [item("aaaaaaaaaaa", concurrentViewers="1")]})
    assert poller.poll_once() == 15
    assert quota.status(db, CLOCK, 10000).last_error is None


@responses.activate
def test_the_interval_stretches_near_the_daily_quota(db, configure):
    configure(YT_API_KEY="k", POLL_INTERVAL_SECONDS="15", YT_DAILY_QUOTA="3000")
    make_event(db, streams=(("youtube", "aaaaaaaaaaa"),))
    responses.get(YT_VIDEOS, json={"items": [item("aaaaaaaaaaa", concurrentViewers="1")]})
    assert Poller(clock=lambda: CLOCK).poll_once() == 15  # 2,999 units for 12 h = 2,880 polls: enough
    quota.add_units(db, 2995, CLOCK)
    db.commit()
    wait = Poller(clock=lambda: CLOCK).poll_once()  # 3 units left, 12 h to the reset
    assert wait == (RESET - CLOCK) / 3


def test_stretched_interval():
    assert quota.stretched_interval(15, 2, 10000, 3600) == 15
    assert quota.stretched_interval(15, 2, 10, 3600) == 720  # 5 polls left in an hour
    assert quota.next_reset(RESET) == RESET + 23 * 3600  # daylight saving time starts on 10 March 2024


@responses.activate
def test_youtube_and_twitch_streams_in_one_event(db, configure):
    configure(YT_API_KEY="k", TWITCH_APP_ID="app", TWITCH_APP_SECRET="secret")
    event_id, ids = make_event(db, streams=(("youtube", "aaaaaaaaaaa"), ("twitch", "alpha"), ("twitch", "beta")))
    responses.get(YT_VIDEOS, json={"items": [item("aaaaaaaaaaa", concurrentViewers="100")]})
    responses.post(TWITCH_TOKEN, json={"access_token": "app-token", "expires_in": 3600, "token_type": "bearer"})
    responses.get(HELIX_STREAMS, json={"data": [{"user_login": "alpha", "viewer_count": 42, "type": "live",
                                                 "title": "Alpha live"}], "pagination": {}})
    Poller(clock=lambda: CLOCK).poll_once()
    helix_call = next(call for call in responses.calls if call.request.url.startswith(HELIX_STREAMS))
    assert "user_login=alpha" in helix_call.request.url and "user_login=beta" in helix_call.request.url
    total, streams = samples(db, event_id)
    assert [row.viewers for row in total] == [142]
    assert [(row.stream_id, row.state, row.viewers) for row in streams] == [
        (ids[0], "live", 100), (ids[1], "live", 42), (ids[2], "offline", None)]


@responses.activate
def test_a_failing_platform_is_unknown_while_the_other_is_recorded(db, configure):
    configure(YT_API_KEY="k", TWITCH_APP_ID="app", TWITCH_APP_SECRET="secret")
    event_id, ids = make_event(db)
    responses.get(YT_VIDEOS, json={"items": [item("aaaaaaaaaaa", concurrentViewers="100")]})
    responses.post(TWITCH_TOKEN, json={"access_token": "app-token", "expires_in": 3600, "token_type": "bearer"})
    responses.get(HELIX_STREAMS, status=400, json={"error": "Bad Request", "status": 400, "message": "bad"})
    assert Poller(clock=lambda: CLOCK).poll_once() == 30
    total, streams = samples(db, event_id)
    assert [(row.viewers, row.unknown_streams) for row in total] == [(100, 1)]
    assert [(row.state, row.viewers) for row in streams] == [("live", 100), ("unknown", None)]


def test_the_poller_service_survives_errors(db, monkeypatch, youtube):
    stop = threading.Event()
    calls = []

    def failing(self):
        calls.append(1)
        if len(calls) == 2:
            stop.set()
        raise RuntimeError("database went away")

    monkeypatch.setattr(Poller, "poll_once", failing)
    monkeypatch.setattr(workers, "MAX_WAIT", 0.01)
    workers.poll(stop)  # returns when stopped: the errors did not escape
    assert len(calls) == 2
