import pytest

from modules.spotify.urls import SpotifyLink, open_url, parse

TRACK = "4cOdK2wGLETKBW3PvgPWqT"


@pytest.mark.parametrize(("value", "kind"), [
    (f"https://open.spotify.com/track/{TRACK}", "track"),
    (f"https://open.spotify.com/track/{TRACK}?si=abc123&utm_source=copy-link", "track"),
    (f"http://open.spotify.com/album/{TRACK}", "album"),
    (f"open.spotify.com/playlist/{TRACK}", "playlist"),
    (f"https://open.spotify.com/episode/{TRACK}/", "episode"),
    (f"https://open.spotify.com/show/{TRACK}", "show"),
    (f"https://open.spotify.com/artist/{TRACK}", "artist"),
    (f"https://open.spotify.com/intl-de/track/{TRACK}", "track"),
    (f"https://open.spotify.com/intl-pt_br/album/{TRACK}?si=x", "album"),
    (f"https://open.spotify.com/embed/track/{TRACK}", "track"),
    (f"  https://OPEN.spotify.com/Track/{TRACK}  ", "track"),
    (f"spotify:track:{TRACK}", "track"),
    (f"spotify:artist:{TRACK}", "artist"),
])
def test_accepted_links_are_normalised(value, kind):
    link = parse(value)
    assert link == SpotifyLink(kind, TRACK)
    assert link.url == f"https://open.spotify.com/{kind}/{TRACK}" == open_url(kind, TRACK)


@pytest.mark.parametrize("value", [
    "",
    f"https://open.spotify.com/user/{TRACK}",
    f"https://open.spotify.com/track/{TRACK[:-1]}",
    f"https://open.spotify.com/track/{TRACK}x",
    f"https://open.spotify.com/track/{TRACK}/extra",
    f"https://spotify.com/track/{TRACK}",
    f"https://open.spotify.com.evil.example/track/{TRACK}",
    f"https://open.spotify.com@evil.example/track/{TRACK}",
    f"ftp://open.spotify.com/track/{TRACK}",
    f"https://open.spotify.com/intl-toolong/track/{TRACK}",
    f"spotify:user:{TRACK}",
    f"spotify:track:{TRACK}:extra",
    "spotify:track",
    "https://spotify.link/abcdef",
    f"https://www.youtube.com/watch?v={TRACK[:11]}",
])
def test_other_values_are_not_spotify_links(value):
    assert parse(value) is None
