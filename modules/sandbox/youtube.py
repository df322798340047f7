"""Fakes of YouTube: the Data API v3 calls WaddleBot makes (videos.list with
liveStreamingDetails.concurrentViewers, liveChat/messages) with Google's error bodies, and the
YouTube and Spotify oEmbed endpoints."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from modules.sandbox.web import Request, Response, Router, json_response
from modules.twitch.eventsub import format_timestamp


def google_error(status: int, reason: str, message: str) -> Response:
    """Google's error body: {"error": {"code", "message", "errors": [{"reason", …}]}}."""
    return json_response({"error": {"code": status, "message": message,
                                    "errors": [{"message": message, "domain": "youtube.api", "reason": reason}]}},
                         status)


@dataclass
class LiveVideo:
    video_id: str
    title: str
    channel_title: str
    viewers: Callable[[], int | None]  # the current concurrent viewers (None: not shown)
    ended: bool = False
    chat: list[dict] = field(default_factory=list)

    @property
    def chat_id(self) -> str:
        return f"chat-{self.video_id}"


@dataclass
class FakeYouTube:
    """`videos` maps an id to a LiveVideo; `api_key` is the only key accepted."""

    api_key: str = "sandbox-youtube-key"
    videos: dict[str, LiveVideo] = field(default_factory=dict)
    quota_used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.router = Router()
        self.router.add("GET", "/youtube/v3/videos", self._videos)
        self.router.add("GET", "/youtube/v3/liveChat/messages", self._chat)

    def handle(self, request: Request) -> Response:
        with self._lock:
            if request.arg("key") != self.api_key:
                return google_error(400, "keyInvalid", "API key not valid. Please pass a valid API key.")
            return self.router.dispatch(request, lambda r: google_error(404, "notFound", f"no such method {r.path}"))

    def _videos(self, request: Request) -> Response:
        self.quota_used += 1
        ids = [video for value in request.query.get("id", []) for video in value.split(",") if video]
        if not ids:
            return google_error(400, "missingRequiredParameter", "No filter selected. Expected one of: id")
        items = [self._item(self.videos[video]) for video in ids if video in self.videos]
        return json_response({"kind": "youtube#videoListResponse", "etag": "sandbox", "items": items,
                              "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})

    @staticmethod
    def _item(video: LiveVideo) -> dict:
        details: dict = {"actualStartTime": "2024-01-01T00:00:00Z", "scheduledStartTime": "2024-01-01T00:00:00Z"}
        viewers = video.viewers()
        if video.ended:
            details["actualEndTime"] = format_timestamp()
        else:
            details["activeLiveChatId"] = video.chat_id
            if viewers is not None:
                details["concurrentViewers"] = str(viewers)  # a string, as Google sends it
        return {"kind": "youtube#video", "etag": "sandbox", "id": video.video_id,
                "snippet": {"title": video.title, "channelTitle": video.channel_title,
                            "liveBroadcastContent": "none" if video.ended else "live"},
                "liveStreamingDetails": details}

    def _chat(self, request: Request) -> Response:
        self.quota_used += 5
        video = next((item for item in self.videos.values() if item.chat_id == request.arg("liveChatId")), None)
        if video is None:
            return google_error(404, "liveChatNotFound", "The live chat that you are trying to retrieve cannot be "
                                                         "found.")
        if video.ended:
            return google_error(403, "liveChatEnded", "The specified live chat is no longer live.")
        start = int(request.arg("pageToken", "0") or 0)
        items = video.chat[start:]
        return json_response({"kind": "youtube#liveChatMessageListResponse", "pollingIntervalMillis": 2000,
                              "nextPageToken": str(start + len(items)), "items": items,
                              "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})

    def post_chat(self, video_id: str, author: str, text: str) -> None:
        """A viewer writes in a video's live chat."""
        with self._lock:
            video = self.videos[video_id]
            number = len(video.chat) + 1
            video.chat.append({
                "kind": "youtube#liveChatMessage", "id": f"{video.chat_id}-{number}",
                "snippet": {"type": "textMessageEvent", "liveChatId": video.chat_id, "publishedAt": format_timestamp(),
                            "hasDisplayContent": True, "displayMessage": text,
                            "textMessageDetails": {"messageText": text}, "authorChannelId": f"UC{author}"},
                "authorDetails": {"channelId": f"UC{author}", "displayName": author, "isChatOwner": False,
                                  "isChatModerator": False, "isChatSponsor": False, "isVerified": False}})


@dataclass
class FakeOEmbed:
    """/youtube/oembed and /spotify/oembed: metadata of any video or track link; `unavailable`
    holds links answered 404 (private or removed media). Thumbnails are SVGs this fake serves
    itself (`base_url`), so pages showing them load nothing from outside."""

    base_url: str = "http://127.0.0.1"
    unavailable: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/thumbs/"):
            return thumbnail(request.path.removeprefix("/thumbs/"))
        url = request.arg("url")
        self.asked.append(url)
        provider = request.path.strip("/").split("/")[0]
        if provider not in ("youtube", "spotify") or request.path.rstrip("/").rsplit("/", 1)[-1] != "oembed":
            return json_response({"error": "not found"}, 404)
        if not url or url in self.unavailable:
            return Response(404, {"Content-Type": "text/plain"}, b"Not Found")
        key = urlsplit(url).query.removeprefix("v=") or urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        if provider == "youtube":
            return json_response({"title": f"Sandbox video {key}", "author_name": "Sandbox Channel",
                                  "author_url": "https://www.youtube.com/@sandbox", "type": "video", "height": 113,
                                  "width": 200, "version": "1.0", "provider_name": "YouTube",
                                  "provider_url": "https://www.youtube.com/",
                                  "thumbnail_url": f"{self.base_url}/thumbs/{key}",
                                  "thumbnail_width": 480, "thumbnail_height": 360, "html": ""})
        return json_response({"title": f"Sandbox track {key}", "provider_name": "Spotify",
                              "provider_url": "https://spotify.com", "type": "rich", "version": "1.0",
                              "thumbnail_url": f"{self.base_url}/thumbs/{key}", "thumbnail_width": 300,
                              "thumbnail_height": 300, "html": "", "width": 456, "height": 152})


def thumbnail(key: str) -> Response:
    """A 480×270 SVG whose colour and label come from the media id."""
    hue = sum(key.encode()) % 360
    label = "".join(char for char in key if char.isalnum())[:16]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="480" height="270"><rect width="480" height="270" '
           f'fill="hsl({hue},60%,45%)"/><text x="240" y="145" font-size="32" fill="#fff" text-anchor="middle" '
           f'font-family="sans-serif">{label}</text></svg>')
    return Response(200, {"Content-Type": "image/svg+xml"}, svg.encode())
