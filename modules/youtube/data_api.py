"""YouTube Data API v3, the calls WaddleBot makes: videos.list (live viewer counts, live chat ids)
and liveChatMessages.list. Wire calls and typed results only; quota units are counted per call.

Quota costs (https://developers.google.com/youtube/v3/determine_quota_cost): videos.list 1 unit,
liveChatMessages.list 5 units. Daily quotas reset at midnight Pacific Time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import requests

MAX_IDS_PER_CALL = 50
QUOTA_COST = {"videos.list": 1, "liveChatMessages.list": 5}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
CHAT_ENDED_REASONS = {"liveChatEnded", "liveChatNotFound", "liveChatDisabled"}

StreamState = Literal["live", "unknown", "ended", "unavailable"]


class YouTubeApiError(Exception):
    """The API refused a call or could not be reached (`status` None). `reason` is the API's own
    error reason, e.g. "keyInvalid", "quotaExceeded", "liveChatEnded"."""

    def __init__(self, message: str, status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason


class QuotaExceeded(YouTubeApiError):
    """The project's daily quota is spent; it resets at midnight Pacific Time."""


class ChatEnded(YouTubeApiError):
    """The live chat is over, disabled or gone: there is nothing more to read."""


@dataclass(frozen=True)
class LiveVideo:
    """What videos.list says about one video, reduced to what a viewer dashboard needs."""

    video_id: str
    state: StreamState
    viewers: int | None = None
    title: str = ""
    channel_title: str = ""
    live_chat_id: str | None = None


@dataclass(frozen=True)
class ChatPage:
    items: list[dict]
    next_page_token: str | None
    polling_interval_ms: int
    offline_at: str | None = None


def _error_reason(response: requests.Response) -> tuple[str, str]:
    """(reason, message) from a Google API error body; empty strings when it has none."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return "", response.text[:200]
    errors = error.get("errors") or [{}]
    return errors[0].get("reason", ""), error.get("message", "")


def parse_video(item: dict) -> LiveVideo:
    """One videos.list item → LiveVideo. concurrentViewers is a string; absent means unknown."""
    snippet = item.get("snippet") or {}
    details = item.get("liveStreamingDetails")
    common = {"video_id": item["id"], "title": snippet.get("title", ""),
              "channel_title": snippet.get("channelTitle", "")}
    if details is None:
        return LiveVideo(state="unavailable", **common)  # an upload, not a live stream
    if details.get("actualEndTime"):
        return LiveVideo(state="ended", **common)
    chat_id = details.get("activeLiveChatId")
    viewers = details.get("concurrentViewers")
    if viewers is None or not (str(viewers).isascii() and str(viewers).isdigit()):
        return LiveVideo(state="unknown", live_chat_id=chat_id, **common)
    return LiveVideo(state="live", viewers=int(viewers), live_chat_id=chat_id, **common)


@dataclass
class YouTubeDataApi:
    """A keyed client of one API base URL. `quota_used` counts the units this client spent."""

    base_url: str
    api_key: str
    timeout: float = 10.0
    session: requests.Session = field(default_factory=requests.Session)
    quota_used: int = 0

    def __repr__(self) -> str:
        return f"YouTubeDataApi(base_url={self.base_url!r}, quota_used={self.quota_used})"

    def _get(self, method: str, path: str, params: dict) -> dict:
        self.quota_used += QUOTA_COST[method]  # Google charges invalid requests too
        try:
            response = self.session.get(f"{self.base_url}/{path}", params={**params, "key": self.api_key},
                                        timeout=self.timeout)
        except requests.RequestException as err:
            raise YouTubeApiError(f"{method} unreachable: {err.__class__.__name__}") from None
        if response.ok:
            return response.json()
        reason, message = _error_reason(response)
        text = f"{method} answered {response.status_code} {reason}: {message}".strip()
        if reason in QUOTA_REASONS:
            raise QuotaExceeded(text, response.status_code, reason)
        if reason in CHAT_ENDED_REASONS:
            raise ChatEnded(text, response.status_code, reason)
        raise YouTubeApiError(text, response.status_code, reason)

    def videos(self, video_ids: Iterable[str]) -> dict[str, LiveVideo]:
        """Live details of up to 50 videos in one call (1 unit). An id missing from the answer is
        returned as "unavailable" (deleted, private or mistyped)."""
        ids = list(dict.fromkeys(video_ids))
        if not 0 < len(ids) <= MAX_IDS_PER_CALL:
            raise ValueError(f"videos.list takes 1 to {MAX_IDS_PER_CALL} ids, got {len(ids)}")
        body = self._get("videos.list", "videos", {"part": "liveStreamingDetails,snippet", "id": ",".join(ids),
                                                   "maxResults": MAX_IDS_PER_CALL})
        found = {item["id"]: parse_video(item) for item in body.get("items", [])}
        return {video: found.get(video, LiveVideo(video_id=video, state="unavailable")) for video in ids}

    def chat_messages(self, live_chat_id: str, page_token: str | None = None, max_results: int = 2000) -> ChatPage:
        """One page of liveChatMessages.list (5 units), oldest message first."""
        params = {"liveChatId": live_chat_id, "part": "snippet,authorDetails", "maxResults": max_results}
        if page_token:
            params["pageToken"] = page_token
        body = self._get("liveChatMessages.list", "liveChat/messages", params)
        return ChatPage(items=body.get("items", []), next_page_token=body.get("nextPageToken"),
                        polling_interval_ms=int(body.get("pollingIntervalMillis") or 0),
                        offline_at=body.get("offlineAt"))
