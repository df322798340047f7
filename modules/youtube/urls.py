"""YouTube video links → video ids and canonical watch URLs."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com",
          "www.youtube-nocookie.com"}
_PATH_PREFIXES = ("shorts", "live", "embed", "v", "e")


def video_id(value: str) -> str | None:
    """The 11-character id of a YouTube video link (watch, youtu.be, shorts, live, embed, m., music.)
    or of a bare id; None when the value is neither."""
    value = value.strip()
    if VIDEO_ID.match(value):
        return value
    try:
        parts = urlsplit(value if "://" in value else f"https://{value}")
    except ValueError:  # an unclosed [IPv6] host, say
        return None
    host = (parts.hostname or "").lower()
    candidate = None
    if host in ("youtu.be", "www.youtu.be"):
        candidate = parts.path.strip("/").split("/")[0]
    elif host in _HOSTS:
        segments = [segment for segment in parts.path.split("/") if segment]
        if segments[:1] == ["watch"]:
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        elif len(segments) >= 2 and segments[0] in _PATH_PREFIXES:
            candidate = segments[1]
    return candidate if candidate and VIDEO_ID.match(candidate) else None


def watch_url(video: str) -> str:
    return f"https://www.youtube.com/watch?v={video}"
