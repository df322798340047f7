"""Chat replays through yt-dlp, offline against recorded YouTube pages (tests/data)."""

import json

import pytest
import responses

from modules.youtube.chat_replay import ChatUnavailable, chat_records, replay_records
from tests.modules.youtube.replay_fakes import VIDEO, serve_replay


def test_a_replay_is_read_page_after_page_into_export_records():
    with responses.RequestsMock() as mock:
        serve_replay(mock)
        records = list(replay_records(VIDEO))
        posted = [json.loads(call.request.body) for call in mock.calls if call.request.method == "POST"]
    assert [record["id"] for record in records] == [f"replay-msg-{n}" for n in range(1, 7)]
    first, mod, member, paid = records[0], records[2], records[3], records[4]
    assert first == {"id": "replay-msg-1", "published_at": "2024-01-01T00:00:01.500000Z", "type": "textMessageEvent",
                     "author_channel_id": "UCviewer0001", "author_name": "Streamer", "message": "welcome everyone",
                     "is_owner": True, "is_moderator": False, "is_member": False, "is_verified": False,
                     "video_offset_ms": 1500}
    assert mod["message"] == "be nice ❤" and mod["is_moderator"] and mod["is_verified"]
    assert member["is_member"] and not member["is_owner"]
    assert (paid["type"], paid["amount"]) == ("superChatEvent", "$5.00")
    assert [body["continuation"] for body in posted] == ["replay-continuation-2", "replay-continuation-3"]
    assert all(body["context"]["client"]["clientName"] == "WEB" for body in posted)


def test_a_video_without_a_replay_says_so():
    with responses.RequestsMock() as mock:
        mock.get(f"https://www.youtube.com/watch?v={VIDEO}", body="<html>chat is disabled</html>")
        with pytest.raises(ChatUnavailable, match=f"video {VIDEO} has no chat replay"):
            list(replay_records(VIDEO))


def test_a_missing_video_names_the_http_error():
    with responses.RequestsMock() as mock:
        mock.get(f"https://www.youtube.com/watch?v={VIDEO}", status=404)
        with pytest.raises(ChatUnavailable, match="could not read its chat .*404"):
            list(replay_records(VIDEO))


def test_emoji_runs_become_their_shortcut_and_other_actions_are_skipped():
    action = {"replayChatItemAction": {"videoOffsetTimeMsec": "5", "actions": [
        {"addChatItemAction": {"item": {"liveChatTextMessageRenderer": {
            "id": "e1", "timestampUsec": "1704067200000000", "authorName": {"simpleText": "A"},
            "message": {"runs": [{"text": "gg "}, {"emoji": {"emojiId": "x", "shortcuts": [":clap:"]}}]}}}}},
        {"addChatItemAction": {"item": {"liveChatViewerEngagementMessageRenderer": {"id": "system"}}}},
        {"markChatItemAsDeletedAction": {}}]}}
    records = list(chat_records([json.dumps(action), ""]))
    assert [(record["id"], record["message"]) for record in records] == [("e1", "gg :clap:")]

