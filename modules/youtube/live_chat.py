"""Read a YouTube live chat through the Data API: the chat id from videos.list
(liveStreamingDetails.activeLiveChatId), then liveChatMessages.list page after page, following
nextPageToken and waiting pollingIntervalMillis between pages, until the chat goes offline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from modules.youtube.data_api import ChatEnded, YouTubeApiError, YouTubeDataApi


class NoLiveChat(YouTubeApiError):
    """The video has no live chat the Data API can read (not live, chat off, or deleted)."""


class ChatNotLive(NoLiveChat):
    """The video exists but has no active live chat: it ended (a replay) or has not started."""


def live_chat_id(api: YouTubeDataApi, video_id: str) -> str:
    """The activeLiveChatId of a video, or NoLiveChat saying why there is none."""
    video = api.videos([video_id])[video_id]
    if video.state == "unavailable":
        raise NoLiveChat(f"video {video_id} is not available or is not a live stream")
    if not video.live_chat_id:
        raise ChatNotLive(f"video {video_id} has no active live chat (state: {video.state}); the Data API "
                         "serves a chat only while it is live")
    return video.live_chat_id


def chat_record(item: dict) -> dict:
    """One liveChatMessage resource → a flat record (what the export writes per message)."""
    snippet = item.get("snippet") or {}
    author = item.get("authorDetails") or {}
    record = {
        "id": item.get("id"),
        "published_at": snippet.get("publishedAt"),
        "type": snippet.get("type"),
        "author_channel_id": author.get("channelId") or snippet.get("authorChannelId"),
        "author_name": author.get("displayName"),
        "message": snippet.get("displayMessage", ""),
        "is_owner": bool(author.get("isChatOwner")),
        "is_moderator": bool(author.get("isChatModerator")),
        "is_member": bool(author.get("isChatSponsor")),
        "is_verified": bool(author.get("isVerified")),
    }
    super_chat = snippet.get("superChatDetails") or snippet.get("superStickerDetails")
    if super_chat:
        record["amount"] = super_chat.get("amountDisplayString")
    return record


@dataclass
class ChatReader:
    """Iterates over chat records, oldest first. Waits max(min_sleep, pollingIntervalMillis)
    between pages; stops after the page that reports offlineAt, or when the chat has ended."""

    api: YouTubeDataApi
    chat_id: str
    min_sleep: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    pages: int = 0
    ended: bool = False
    _token: str | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[dict]:
        while not self.ended:
            try:
                page = self.api.chat_messages(self.chat_id, self._token)
            except ChatEnded:
                self.ended = True
                return
            self.pages += 1
            for item in page.items:
                yield chat_record(item)
            self._token = page.next_page_token
            if page.offline_at or not self._token:
                self.ended = True
                return
            self.sleep(max(self.min_sleep, page.polling_interval_ms / 1000))
