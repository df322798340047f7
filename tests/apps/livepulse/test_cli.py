import json
import time

import pytest
import responses
from click.testing import CliRunner

from apps.livepulse import quota
from apps.livepulse.cli import livepulse
from shared.cli import main
from tests.apps.livepulse.conftest import YT_VIDEOS
from tests.modules.youtube.replay_fakes import serve_replay

MESSAGES = "https://www.googleapis.com/youtube/v3/liveChat/messages"
VIDEO = "dQw4w9WgXcQ"  # the video of the recorded replay pages too


def message(n):
    return {"id": f"m{n}", "snippet": {"type": "textMessageEvent", "publishedAt": "2024-01-01T00:00:00Z",
                                       "displayMessage": f"hi {n}"},
            "authorDetails": {"channelId": f"UC{n}", "displayName": f"viewer {n}"}}


@pytest.fixture
def chat_api(configure, monkeypatch, tmp_path):
    configure(YT_API_KEY="test-yt-key")
    monkeypatch.chdir(tmp_path)
    with responses.RequestsMock() as mock:
        mock.get(YT_VIDEOS, json={"items": [{"id": VIDEO, "liveStreamingDetails": {
            "activeLiveChatId": "chat-1", "concurrentViewers": "10"}}]})
        mock.get(MESSAGES, json={"items": [message(1), message(2)], "nextPageToken": "p2",
                                 "pollingIntervalMillis": 0})
        mock.get(MESSAGES, json={"items": [message(3), message(4)], "nextPageToken": "p3",
                                 "pollingIntervalMillis": 0, "offlineAt": "2024-01-01T01:00:00Z"})
        yield mock


def test_json_export_until_the_chat_ends(db, chat_api, tmp_path):
    result = CliRunner().invoke(livepulse, ["export-chat", f"https://youtu.be/{VIDEO}", "--sleep-sec", "0"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / f"{VIDEO}_livechat.json").read_text())
    assert (document["videoId"], document["liveChatId"], document["count"], document["chatEnded"]) == (
        VIDEO, "chat-1", 4, True)
    assert [m["message"] for m in document["messages"]] == ["hi 1", "hi 2", "hi 3", "hi 4"]
    assert chat_api.calls[2].request.params["pageToken"] == "p2"
    assert "4 messages" in result.output and "11 quota units" in result.output  # 1 + 2 × 5
    assert "written to dQw4w9WgXcQ_livechat.json (the chat ended)" in result.output
    assert quota.status(db, time.time(), 10000).units == 11


def test_ndjson_export_stops_at_max_messages(db, chat_api, tmp_path):
    result = CliRunner().invoke(livepulse, ["export-chat", VIDEO, "out.ndjson", "3", "--ndjson", "--sleep-sec", "0"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.ndjson").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["m1", "m2", "m3"]
    assert "(3 messages reached)" in result.output


def test_ctrl_c_keeps_what_was_read(db, chat_api, tmp_path, monkeypatch):
    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupt)
    result = CliRunner().invoke(livepulse, ["export-chat", VIDEO, "--sleep-sec", "0.5"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / f"{VIDEO}_livechat.json").read_text())
    assert [m["id"] for m in document["messages"]] == ["m1", "m2"] and document["chatEnded"] is False
    assert "(interrupted)" in result.output
    chat_api.assert_all_requests_are_fired = False


def test_clear_errors(db, configure):
    configure(YT_API_KEY="k")
    result = CliRunner().invoke(livepulse, ["export-chat", "https://example.com/x"])
    assert result.exit_code == 2 and "is not a YouTube video URL or id" in result.output
    with responses.RequestsMock() as mock:
        mock.get(YT_VIDEOS, json={"items": []})
        result = CliRunner().invoke(livepulse, ["export-chat", VIDEO])
    assert result.exit_code == 1 and "not available or is not a live stream" in result.output


def test_without_a_key_the_replay_is_exported_through_yt_dlp(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with responses.RequestsMock() as mock:
        serve_replay(mock)
        result = CliRunner().invoke(livepulse, ["export-chat", f"https://www.youtube.com/watch?v={VIDEO}"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / f"{VIDEO}_livechat.json").read_text())
    assert (document["videoId"], document["liveChatId"], document["count"], document["chatEnded"]) == (
        VIDEO, None, 6, True)
    assert document["messages"][4]["amount"] == "$5.00"
    assert "chat replay" in result.output and "6 messages written" in result.output


def test_with_a_key_an_ended_stream_falls_back_to_its_replay(db, configure, tmp_path, monkeypatch):
    configure(YT_API_KEY="test-yt-key")
    monkeypatch.chdir(tmp_path)
    ended = {"items": [{"id": VIDEO, "snippet": {"title": "Ended", "liveBroadcastContent": "none"},
                        "liveStreamingDetails": {"actualEndTime": "2024-01-01T02:00:00Z"}}]}
    with responses.RequestsMock() as mock:
        mock.get(YT_VIDEOS, json=ended)
        serve_replay(mock)
        result = CliRunner().invoke(livepulse, ["export-chat", VIDEO, "out.ndjson", "4", "--ndjson"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.ndjson").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [f"replay-msg-{n}" for n in range(1, 5)]
    assert "(4 messages reached)" in result.output
    assert quota.status(db, time.time(), 10000).units == 1  # videos.list only: the replay costs no quota


def test_yt_dlp_failures_are_clear(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with responses.RequestsMock() as mock:
        mock.get(f"https://www.youtube.com/watch?v={VIDEO}", body="<html>members only</html>")
        result = CliRunner().invoke(livepulse, ["export-chat", VIDEO])
    assert result.exit_code == 1 and f"video {VIDEO} has no chat replay that yt-dlp can read" in result.output


def test_the_waddlebot_command_has_the_livepulse_group(db):
    result = CliRunner().invoke(main, ["livepulse", "export-chat", "--help"])
    assert result.exit_code == 0 and "--ndjson" in result.output and "MAX_MESSAGES" in result.output
