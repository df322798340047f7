import pytest
import responses

from modules.youtube.data_api import ChatEnded, QuotaExceeded, YouTubeApiError, YouTubeDataApi, parse_video

BASE = "http://yt.test/youtube/v3"


def video(video_id, **details):
    return {"id": video_id, "snippet": {"title": f"Title {video_id}", "channelTitle": "Chan"},
            "liveStreamingDetails": details}


def error_body(reason, status=403):
    return {"error": {"code": status, "message": f"{reason} happened", "errors": [{"reason": reason}]}}


def test_concurrent_viewers_string_is_live_count():
    parsed = parse_video(video("v1", concurrentViewers="1234", activeLiveChatId="chat1"))
    assert (parsed.state, parsed.viewers, parsed.live_chat_id, parsed.title) == ("live", 1234, "chat1", "Title v1")


def test_absent_count_is_unknown_not_zero():
    parsed = parse_video(video("v1", actualStartTime="2024-01-01T00:00:00Z"))
    assert parsed.state == "unknown" and parsed.viewers is None


def test_actual_end_time_means_ended():
    parsed = parse_video(video("v1", actualEndTime="2024-01-01T03:00:00Z", concurrentViewers="5"))
    assert parsed.state == "ended" and parsed.viewers is None


def test_a_plain_upload_is_unavailable():
    item = {"id": "v1", "snippet": {"title": "upload"}}
    assert parse_video(item).state == "unavailable"


@responses.activate
def test_videos_sends_parts_ids_and_key_and_marks_missing_ids_unavailable():
    responses.get(f"{BASE}/videos", json={"items": [video("aaaaaaaaaaa", concurrentViewers="10")]})
    api = YouTubeDataApi(BASE, "secret-key")
    found = api.videos(["aaaaaaaaaaa", "bbbbbbbbbbb"])
    assert found["aaaaaaaaaaa"].viewers == 10
    assert found["bbbbbbbbbbb"].state == "unavailable"
    params = responses.calls[0].request.params
    assert params == {"part": "liveStreamingDetails,snippet", "id": "aaaaaaaaaaa,bbbbbbbbbbb", "maxResults": "50",
                      "key": "secret-key"}
    assert api.quota_used == 1
    assert "secret-key" not in repr(api)


def test_videos_refuses_more_than_50_ids():
    with pytest.raises(ValueError, match="1 to 50"):
        YouTubeDataApi(BASE, "k").videos([f"{i:011d}" for i in range(51)])


@responses.activate
def test_quota_exceeded_is_typed_and_still_counted():
    responses.get(f"{BASE}/videos", status=403, json=error_body("quotaExceeded"))
    api = YouTubeDataApi(BASE, "k")
    with pytest.raises(QuotaExceeded) as caught:
        api.videos(["aaaaaaaaaaa"])
    assert caught.value.reason == "quotaExceeded" and caught.value.status == 403
    assert api.quota_used == 1


@responses.activate
def test_other_errors_carry_status_and_reason():
    responses.get(f"{BASE}/videos", status=400, json=error_body("keyInvalid", 400))
    with pytest.raises(YouTubeApiError) as caught:
        YouTubeDataApi(BASE, "k").videos(["aaaaaaaaaaa"])
    assert not isinstance(caught.value, QuotaExceeded)
    assert (caught.value.status, caught.value.reason) == (400, "keyInvalid")


@responses.activate
def test_unreachable_api_is_an_error_without_status():
    with pytest.raises(YouTubeApiError) as caught:
        YouTubeDataApi(BASE, "k").videos(["aaaaaaaaaaa"])
    assert caught.value.status is None


@responses.activate
def test_chat_messages_page_and_cost():
    responses.get(f"{BASE}/liveChat/messages", json={
        "items": [{"id": "m1"}], "nextPageToken": "p2", "pollingIntervalMillis": 2500})
    api = YouTubeDataApi(BASE, "k")
    page = api.chat_messages("chat1", page_token="p1")
    assert (page.items, page.next_page_token, page.polling_interval_ms, page.offline_at) == (
        [{"id": "m1"}], "p2", 2500, None)
    assert responses.calls[0].request.params["pageToken"] == "p1"
    assert responses.calls[0].request.params["liveChatId"] == "chat1"
    assert api.quota_used == 5


@responses.activate
def test_chat_ended_is_typed():
    responses.get(f"{BASE}/liveChat/messages", status=403, json=error_body("liveChatEnded"))
    with pytest.raises(ChatEnded):
        YouTubeDataApi(BASE, "k").chat_messages("chat1")
