"""Spotify links → (kind, id) and canonical open.spotify.com URLs.

Accepted: https://open.spotify.com/<kind>/<id> (with or without scheme, query string, an
`intl-xx` language segment, or an `embed` segment) and spotify:<kind>:<id> URIs, for the kinds
track, album, playlist, episode, show and artist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

KINDS = ("track", "album", "playlist", "episode", "show", "artist")
SPOTIFY_ID = re.compile(r"^[A-Za-z0-9]{22}$")
_INTL = re.compile(r"^intl-[a-z]{2}(?:[-_][a-z]{2})?$", re.IGNORECASE)


@dataclass(frozen=True)
class SpotifyLink:
    kind: str
    id: str

    @property
    def url(self) -> str:
        return open_url(self.kind, self.id)


def open_url(kind: str, spotify_id: str) -> str:
    return f"https://open.spotify.com/{kind}/{spotify_id}"


def _link(kind: str, spotify_id: str) -> SpotifyLink | None:
    kind = kind.lower()
    return SpotifyLink(kind, spotify_id) if kind in KINDS and SPOTIFY_ID.match(spotify_id) else None


def parse(value: str) -> SpotifyLink | None:
    """The Spotify item a link or URI points to; None when the value is neither."""
    value = value.strip()
    if value.lower().startswith("spotify:"):
        parts = value.split(":")
        return _link(parts[1], parts[2]) if len(parts) == 3 else None
    try:
        parts = urlsplit(value if "://" in value else f"https://{value}")
    except ValueError:  # an unclosed [IPv6] host, say
        return None
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() != "open.spotify.com":
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and _INTL.match(segments[0]):
        segments = segments[1:]
    if segments[:1] == ["embed"]:
        segments = segments[1:]
    return _link(*segments) if len(segments) == 2 else None
