"""Fixtures of the twitch_chat tests: oEmbed providers mocked with `responses`, tickets."""

from __future__ import annotations

import pytest
import responses

from apps.twitch_chat import reco
from shared.db import get_db, transaction

YOUTUBE_OEMBED = "https://www.youtube.com/oembed"
SPOTIFY_OEMBED = "https://open.spotify.com/oembed"
VIDEO_ID = "dQw4w9WgXcQ"
VIDEO_URL = f"https://www.youtube.com/watch?v={VIDEO_ID}"
TRACK_ID = "4cOdK2wGLETKBW3PvgPWqT"
TRACK_URL = f"https://open.spotify.com/track/{TRACK_ID}"
VIDEO_META = {"title": "Never Gonna Give You Up", "author_name": "Rick Astley", "provider_name": "YouTube",
              "thumbnail_url": f"https://i.ytimg.com/vi/{VIDEO_ID}/hqdefault.jpg"}
TRACK_META = {"title": "Never Gonna Give You Up", "provider_name": "Spotify",
              "thumbnail_url": "https://image-cdn.spotify.test/ab67616d0000b273"}


@pytest.fixture
def oembed():
    """Both oEmbed providers answer with metadata; tests add other answers first to override."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock.get(YOUTUBE_OEMBED, json=VIDEO_META)
        mock.get(SPOTIFY_OEMBED, json=TRACK_META)
        yield mock


def open_ticket(channel: str = "streamer", user: str = "viewer", comment: str = "something chill",
                user_id: str = "42", channel_id: str = "1337") -> str:
    """A new !reco ticket's token."""
    with transaction(get_db()) as db:
        token, _, created = reco.open_ticket(db, channel_id=channel_id, channel_login=channel, user_id=user_id,
                                             user_login=user, user_name=user.title(), comment=comment)
    assert created
    return token


@pytest.fixture
def ticket(db) -> str:
    return open_ticket()
