"""Every accepted and rejected link form, through the normaliser and through the endpoint."""

import pytest

from apps.twitch_chat.reco import Link, RecoError, parse_link
from tests.apps.twitch_chat.conftest import TRACK_ID, VIDEO_ID, open_ticket

WATCH = f"https://www.youtube.com/watch?v={VIDEO_ID}"

ACCEPTED = [
    (f"https://www.youtube.com/watch?v={VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://youtube.com/watch?v={VIDEO_ID}&t=42s&list=PL123", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"www.youtube.com/watch?feature=share&v={VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://youtu.be/{VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://youtu.be/{VIDEO_ID}?si=AbCdEf&t=10", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://www.youtube.com/shorts/{VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://youtube.com/live/{VIDEO_ID}?feature=share", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://www.youtube.com/embed/{VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://www.youtube-nocookie.com/embed/{VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://m.youtube.com/watch?v={VIDEO_ID}", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://music.youtube.com/watch?v={VIDEO_ID}&si=x", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"  http://www.youtube.com/watch?v={VIDEO_ID}  ", Link("youtube", "video", VIDEO_ID, WATCH)),
    (f"https://open.spotify.com/track/{TRACK_ID}?si=abc",
     Link("spotify", "track", TRACK_ID, f"https://open.spotify.com/track/{TRACK_ID}")),
    (f"https://open.spotify.com/album/{TRACK_ID}",
     Link("spotify", "album", TRACK_ID, f"https://open.spotify.com/album/{TRACK_ID}")),
    (f"https://open.spotify.com/playlist/{TRACK_ID}",
     Link("spotify", "playlist", TRACK_ID, f"https://open.spotify.com/playlist/{TRACK_ID}")),
    (f"https://open.spotify.com/episode/{TRACK_ID}",
     Link("spotify", "episode", TRACK_ID, f"https://open.spotify.com/episode/{TRACK_ID}")),
    (f"https://open.spotify.com/show/{TRACK_ID}",
     Link("spotify", "show", TRACK_ID, f"https://open.spotify.com/show/{TRACK_ID}")),
    (f"https://open.spotify.com/artist/{TRACK_ID}",
     Link("spotify", "artist", TRACK_ID, f"https://open.spotify.com/artist/{TRACK_ID}")),
    (f"https://open.spotify.com/intl-fr/track/{TRACK_ID}",
     Link("spotify", "track", TRACK_ID, f"https://open.spotify.com/track/{TRACK_ID}")),
    (f"spotify:track:{TRACK_ID}", Link("spotify", "track", TRACK_ID, f"https://open.spotify.com/track/{TRACK_ID}")),
    (f"spotify:playlist:{TRACK_ID}",
     Link("spotify", "playlist", TRACK_ID, f"https://open.spotify.com/playlist/{TRACK_ID}")),
]

REJECTED = [
    "",
    "   ",
    "never gonna give you up",
    VIDEO_ID,  # a bare id is not a link
    "https://vimeo.com/123456",
    f"https://www.youtube.com/watch?v={VIDEO_ID[:-1]}",
    "https://www.youtube.com/watch?list=PL1234567890",
    "https://www.youtube.com/@RickAstleyYT",
    "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
    f"https://youtube.com.evil.example/watch?v={VIDEO_ID}",
    f"https://www.youtube.com@evil.example/watch?v={VIDEO_ID}",
    f"javascript:alert('{VIDEO_ID}')",
    f"https://open.spotify.com/user/{TRACK_ID}",
    f"https://open.spotify.com/track/{TRACK_ID[:10]}",
    f"spotify:user:{TRACK_ID}",
    "https://spotify.link/ZxYwVuTs",
    "https://soundcloud.com/artist/track",
    f"https://www.youtube.com/watch?v={VIDEO_ID}" + "&x=1" * 600,
    "http://[x",
    "https://[::1/watch?v=dQw4w9WgXcQ",
    "open.spotify.com]/track/x",
]


@pytest.mark.parametrize(("value", "link"), ACCEPTED)
def test_accepted_forms_are_normalised(value, link):
    assert parse_link(value) == link


@pytest.mark.parametrize("value", REJECTED)
def test_rejected_forms_name_what_is_accepted(value):
    with pytest.raises(RecoError) as caught:
        parse_link(value)
    assert caught.value.status == 422
    assert "youtu.be" in caught.value.message and "spotify:track" in caught.value.message


@pytest.mark.parametrize(("value", "link"), ACCEPTED[::4])
def test_the_endpoint_stores_the_normalised_link(client, db, oembed, value, link):
    body = client.post_json(f"/twitch_chat/requests/{open_ticket()}/submit", {"url": value}, status=201).json
    assert (body["recommendation"]["url"], body["recommendation"]["platform"]) == (link.url, link.platform)
    assert oembed.calls[-1].request.params["url"] == link.url


@pytest.mark.parametrize("value", REJECTED[::3] + ["http://[x"])
def test_the_endpoint_refuses_other_links(client, db, oembed, value):
    response = client.post_json(f"/twitch_chat/requests/{open_ticket()}/submit", {"url": value}, status=422)
    assert "not a link we accept" in response.json["message"]
    assert db(db.recommendation).count() == 0
