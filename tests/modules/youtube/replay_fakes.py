"""YouTube's pages for a chat replay, recorded in tests/data/youtube_chat_replay, served by `responses`."""

from __future__ import annotations

import re
from pathlib import Path

import responses
from responses import matchers

DATA = Path(__file__).parents[2] / "data" / "youtube_chat_replay"
VIDEO = "dQw4w9WgXcQ"
REPLAY_API = "https://www.youtube.com/youtubei/v1/live_chat/get_live_chat_replay?key=recorded-innertube-key"


def serve_replay(mock: responses.RequestsMock) -> None:
    """The watch page, the chat replay page, then two continuation pages of the replay API."""
    mock.get(re.compile(rf"https://www\.youtube\.com/watch\?v={VIDEO}"), body=(DATA / "watch.html").read_text(),
             content_type="text/html")
    mock.get("https://www.youtube.com/live_chat_replay?continuation=replay-continuation-1",
             body=(DATA / "live_chat_replay.html").read_text(), content_type="text/html")
    for page in (2, 3):
        mock.post(REPLAY_API, body=(DATA / f"get_live_chat_replay_{page}.json").read_text(),
                  content_type="application/json",
                  match=[matchers.json_params_matcher({"continuation": f"replay-continuation-{page}"},
                                                      strict_match=False)])
