"""The fake YouTube Data API and oEmbed endpoints read by WaddleBot's own clients, and the
recording fakes of the WaddleBot APIs called by its API clients."""

from __future__ import annotations

import pytest
import requests

from modules import oembed
from modules.sandbox.recorders import FakeWaddlebotApis
from modules.sandbox.stack import Mux
from modules.sandbox.web import Server
from modules.sandbox.youtube import FakeOEmbed, FakeYouTube, LiveVideo
from modules.waddlebot_api import ApiError, ContextClient, GatewayClient, ReputationClient
from modules.youtube.data_api import ChatEnded, YouTubeApiError, YouTubeDataApi
from modules.youtube.live_chat import ChatReader, live_chat_id


@pytest.fixture
def served():
    youtube, embeds, apis = FakeYouTube(), FakeOEmbed(), FakeWaddlebotApis(api_key="k-123")
    server = Server(Mux([("/youtube/v3", youtube), ("/youtube/oembed", embeds), ("/spotify/oembed", embeds),
                         ("/thumbs", embeds), ("/", apis)]))
    embeds.base_url = server.url
    yield server.url, youtube, embeds, apis
    server.stop()


def test_videos_list_gives_concurrent_viewers_as_waddlebot_reads_them(served):
    url, youtube, _, _ = served
    viewers = {"count": 1234}
    youtube.videos["sbxCoStrmA1"] = LiveVideo("sbxCoStrmA1", "Main cam", "Waddle", lambda: viewers["count"])
    youtube.videos["sbxCoStrmB2"] = LiveVideo("sbxCoStrmB2", "Over", "Waddle", lambda: 5, ended=True)
    api = YouTubeDataApi(f"{url}/youtube/v3", youtube.api_key)
    found = api.videos(["sbxCoStrmA1", "sbxCoStrmB2", "missingXXXX"])
    assert (found["sbxCoStrmA1"].state, found["sbxCoStrmA1"].viewers) == ("live", 1234)
    assert found["sbxCoStrmA1"].title == "Main cam" and found["sbxCoStrmA1"].live_chat_id == "chat-sbxCoStrmA1"
    assert found["sbxCoStrmB2"].state == "ended" and found["missingXXXX"].state == "unavailable"
    viewers["count"] = 99
    assert api.videos(["sbxCoStrmA1"])["sbxCoStrmA1"].viewers == 99
    raw = requests.get(f"{url}/youtube/v3/videos", params={"id": "sbxCoStrmA1", "key": youtube.api_key,
                                                           "part": "liveStreamingDetails"}, timeout=5).json()
    assert raw["items"][0]["liveStreamingDetails"]["concurrentViewers"] == "99"  # a string, as Google sends it


def test_a_wrong_key_gets_googles_error_body(served):
    url, _, _, _ = served
    with pytest.raises(YouTubeApiError) as err:
        YouTubeDataApi(f"{url}/youtube/v3", "wrong").videos(["sbxCoStrmA1"])
    assert (err.value.status, err.value.reason) == (400, "keyInvalid")


def test_live_chat_pages_then_ends(served):
    url, youtube, _, _ = served
    video = LiveVideo("sbxCoStrmA1", "Main cam", "Waddle", lambda: 10)
    youtube.videos[video.video_id] = video
    youtube.post_chat(video.video_id, "Anna", "hello")
    api = YouTubeDataApi(f"{url}/youtube/v3", youtube.api_key)
    chat_id = live_chat_id(api, video.video_id)
    first = api.chat_messages(chat_id)
    assert [item["snippet"]["displayMessage"] for item in first.items] == ["hello"]
    youtube.post_chat(video.video_id, "Ben", "second")
    assert [item["authorDetails"]["displayName"] for item in api.chat_messages(chat_id, first.next_page_token).items] \
        == ["Ben"]
    video.ended = True
    with pytest.raises(ChatEnded):
        api.chat_messages(chat_id)
    assert list(ChatReader(api, chat_id, sleep=lambda seconds: None)) == []


def test_oembed_answers_both_providers_with_thumbnails_served_locally(served):
    url, _, embeds, _ = served
    video = oembed.fetch(f"{url}/youtube/oembed", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", 5)
    track = oembed.fetch(f"{url}/spotify/oembed", "https://open.spotify.com/track/4cOdK2wGLETKBW3PvgPWqT", 5)
    assert video.provider_name == "YouTube" and "dQw4w9WgXcQ" in video.title
    assert track.provider_name == "Spotify" and video.thumbnail_url.startswith(url)
    thumbnail = requests.get(video.thumbnail_url, timeout=5)
    assert thumbnail.headers["Content-Type"] == "image/svg+xml" and thumbnail.text.startswith("<svg")
    embeds.unavailable.add("https://youtu.be/gone")
    with pytest.raises(oembed.OEmbedUnavailable):
        oembed.fetch(f"{url}/youtube/oembed", "https://youtu.be/gone", 5)


def test_the_waddlebot_apis_record_what_they_receive_once_per_idempotency_key(served):
    url, _, _, apis = served
    reputation = ReputationClient(f"{url}/reputation", "k-123")
    reputation.report({"type": "channel.follow", "user_login": "penguin_pat", "points": 10}, "activity:1")
    reputation.report({"type": "channel.follow", "user_login": "penguin_pat", "points": 10}, "activity:1")
    identity = ContextClient(f"{url}/context", "k-123").identity("twitch", "2001", "penguin_pat")
    GatewayClient(f"{url}/gateway/activate", "k-123").activate("twitch", "1001", "waddle_streamer")
    assert apis.counts == {"reputation": 1, "context": 1, "gateway": 1}
    assert apis.latest("reputation")[0]["body"]["user_login"] == "penguin_pat"
    assert apis.latest("reputation")[0]["idempotency_key"] == "activity:1"
    assert identity["namespace"] == "sandbox" and identity["identity_id"].startswith("id-")
    with pytest.raises(ApiError) as err:
        ReputationClient(f"{url}/reputation", "wrong").report({"type": "x"}, "activity:2")
    assert err.value.status == 401 and not err.value.retryable
