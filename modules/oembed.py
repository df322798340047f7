"""oEmbed (https://oembed.com): title, author and thumbnail of a media link. Wire calls only."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import requests

#: statuses meaning "this link is private, removed or not embeddable": asking again will not help
UNAVAILABLE_STATUSES = (400, 401, 403, 404)


class OEmbedError(Exception):
    """The provider could not be asked (timeout, connection error, 5xx, bad answer): retry later."""


class OEmbedUnavailable(OEmbedError):
    """The provider answered that the link has no public media (400, 401, 403 or 404)."""


@dataclass(frozen=True)
class OEmbed:
    title: str
    author_name: str
    thumbnail_url: str
    provider_name: str

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OEmbed:
        return cls(**{name: str(data.get(name) or "") for name in ("title", "author_name", "thumbnail_url",
                                                                  "provider_name")})


def fetch(endpoint: str, url: str, timeout: float, session: requests.Session | None = None) -> OEmbed:
    """Ask `endpoint` about `url`. Raises OEmbedUnavailable or OEmbedError."""
    http = session or requests
    try:
        response = http.get(endpoint, params={"url": url, "format": "json"}, timeout=timeout,
                            headers={"User-Agent": "WaddleBot", "Accept": "application/json"})
    except requests.RequestException as err:
        raise OEmbedError(f"oEmbed provider unreachable ({err.__class__.__name__})") from None
    if response.status_code in UNAVAILABLE_STATUSES:
        raise OEmbedUnavailable(f"oEmbed provider answered {response.status_code}")
    if not response.ok:
        raise OEmbedError(f"oEmbed provider answered {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise OEmbedError("oEmbed provider answered something that is not JSON") from None
    if not isinstance(data, dict) or not data.get("title"):
        raise OEmbedError("oEmbed answer without a title")
    return OEmbed.from_dict(data)
