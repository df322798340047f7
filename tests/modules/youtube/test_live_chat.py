import pytest
import responses

from modules.youtube.data_api import YouTubeDataApi
from modules.youtube.live_chat import ChatReader, NoLiveChat, chat_record, live_chat_id

BASE = "http://yt.test/youtube/v3"


def message(n, text=None):
    return {"id": f"m{n}", "snippet": {"type": "textMessageEvent", "publishedAt": f"2024-01-01T00:00:{n:02d}Z",
                                       "displayMessage": text or f"hello {n}"},
            "authorDetails": {"channelId": f"UC{n}", "displayName": f"viewer {n}", "isChatModerator": n == 2}}


def test_chat_record_flattens_author_and_super_chat():
    item = message(1)
    item["snippet"]["superChatDetails"] = {"amountDisplayString": "$5.00"}
    record = chat_record(item)
    assert record == {"id": "m1", "published_at": "2024-01-01T00:00:01Z", "type": "textMessageEvent",
                      "author_channel_id": "UC1", "author_name": "viewer 1", "message": "hello 1",
                      "is_owner": False, "is_moderator": False, "is_member": False, "is_verified": False,
                      "amount": "$5.00"}


@responses.activate
def test_live_chat_id_from_videos_list():
    responses.get(f"{BASE}/videos", json={"items": [
        {"id": "aaaaaaaaaaa", "liveStreamingDetails": {"activeLiveChatId": "chat-1", "concurrentViewers": "3"}}]})
    assert live_chat_id(YouTubeDataApi(BASE, "k"), "aaaaaaaaaaa") == "chat-1"


@responses.activate
def test_no_live_chat_says_why():
    responses.get(f"{BASE}/videos", json={"items": [
        {"id": "aaaaaaaaaaa", "liveStreamingDetails": {"actualEndTime": "2024-01-01T00:00:00Z"}}]})
    with pytest.raises(NoLiveChat, match="state: ended"):
        live_chat_id(YouTubeDataApi(BASE, "k"), "aaaaaaaaaaa")


@responses.activate
def test_reader_follows_page_tokens_waits_polling_interval_and_stops_offline():
    responses.get(f"{BASE}/liveChat/messages", json={
        "items": [message(1), message(2)], "nextPageToken": "t2", "pollingIntervalMillis": 3000})
    responses.get(f"{BASE}/liveChat/messages", json={
        "items": [message(3)], "nextPageToken": "t3", "pollingIntervalMillis": 100,
        "offlineAt": "2024-01-01T01:00:00Z"})
    slept = []
    reader = ChatReader(YouTubeDataApi(BASE, "k"), "chat-1", min_sleep=0.5, sleep=slept.append)
    assert [record["id"] for record in reader] == ["m1", "m2", "m3"]
    assert reader.ended and reader.pages == 2
    assert slept == [3.0]  # pollingIntervalMillis when longer than min_sleep; none after the last page
    assert "pageToken" not in responses.calls[0].request.params
    assert responses.calls[1].request.params["pageToken"] == "t2"


@responses.activate
def test_reader_stops_when_the_chat_has_ended():
    responses.get(f"{BASE}/liveChat/messages", json={"items": [message(1)], "nextPageToken": "t2",
                                                      "pollingIntervalMillis": 0})
    responses.get(f"{BASE}/liveChat/messages", status=403, json={
        "error": {"code": 403, "message": "ended", "errors": [{"reason": "liveChatEnded"}]}})
    slept = []
    reader = ChatReader(YouTubeDataApi(BASE, "k"), "chat-1", min_sleep=0.25, sleep=slept.append)
    assert [record["id"] for record in reader] == ["m1"]
    assert reader.ended and slept == [0.25]
