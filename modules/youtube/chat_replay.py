"""Read a YouTube chat without the Data API, through yt-dlp's live-chat support: the replay of a
stream that ended (which the Data API no longer serves) or a live chat, without a key or quota.

yt-dlp walks the chat's continuations (the watch page, then YouTube's own chat endpoint) and
writes one JSON action per line; `chat_records` turns those into the same records as the Data
API export (modules.youtube.live_chat.chat_record)."""

from __future__ import annotations

import datetime
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import yt_dlp
from yt_dlp.networking.exceptions import RequestError

WATCH_URL = "https://www.youtube.com/watch?v={video_id}"
_RENDERERS = {
    "liveChatTextMessageRenderer": "textMessageEvent",
    "liveChatPaidMessageRenderer": "superChatEvent",
    "liveChatPaidStickerRenderer": "superStickerEvent",
    "liveChatMembershipItemRenderer": "newSponsorEvent",
}


class ChatUnavailable(Exception):
    """yt-dlp found no chat to read (no replay, chat off, video private or gone)."""


def download_actions(video_id: str, folder: Path, live: bool = False, watch_url: str = WATCH_URL) -> Path:
    """Fetch the chat of `video_id` with yt-dlp into `folder`; the path of its JSON-lines file.

    `live` reads a chat that is still going (until it ends) instead of a replay."""
    info = {"id": video_id, "video_id": video_id, "url": watch_url.format(video_id=video_id), "ext": "json",
            "protocol": "youtube_live_chat" if live else "youtube_live_chat_replay"}
    target = folder / f"{video_id}.live_chat.json"
    options = {"quiet": True, "no_warnings": True, "noprogress": True, "skip_download": True,
               "fragment_retries": 3, "cachedir": False, "logger": _QuietLogger()}
    with yt_dlp.YoutubeDL(options) as ydl:
        try:
            finished = ydl.dl(str(target), info, subtitle=True)
        except (yt_dlp.utils.DownloadError, RequestError) as err:
            reason = str(err).replace("ERROR:", "").split("Got error:")[-1].strip()
            raise ChatUnavailable(f"video {video_id}: yt-dlp could not read its chat ({reason})") from None
    if not finished or not target.exists():
        raise ChatUnavailable(f"video {video_id} has no chat replay that yt-dlp can read")
    return target


def replay_records(video_id: str, live: bool = False, watch_url: str = WATCH_URL) -> Iterator[dict]:
    """The chat of `video_id` as export records, oldest first (fetched in full, then yielded)."""
    with tempfile.TemporaryDirectory(prefix="waddlebot-chat-") as folder:
        path = download_actions(video_id, Path(folder), live, watch_url)
        with path.open(encoding="utf-8") as lines:
            yield from chat_records(lines)


def chat_records(lines: Iterable[str]) -> Iterator[dict]:
    """yt-dlp's JSON lines (replayChatItemAction per line) → export records; other actions skipped."""
    for line in lines:
        if not line.strip():
            continue
        replay = json.loads(line).get("replayChatItemAction") or {}
        for action in replay.get("actions", []):
            item = (action.get("addChatItemAction") or {}).get("item") or {}
            for renderer_name, event_type in _RENDERERS.items():
                if renderer_name in item:
                    yield _record(item[renderer_name], event_type, replay.get("videoOffsetTimeMsec"))


def _record(renderer: dict, event_type: str, offset_ms: str | None) -> dict:
    badges = [badge.get("liveChatAuthorBadgeRenderer") or {} for badge in renderer.get("authorBadges", [])]
    icons = {(badge.get("icon") or {}).get("iconType") for badge in badges}
    record = {
        "id": renderer.get("id"),
        "published_at": _timestamp(renderer.get("timestampUsec")),
        "type": event_type,
        "author_channel_id": renderer.get("authorExternalChannelId"),
        "author_name": (renderer.get("authorName") or {}).get("simpleText"),
        "message": _text(renderer.get("message") or renderer.get("headerSubtext") or {}),
        "is_owner": "OWNER" in icons,
        "is_moderator": "MODERATOR" in icons,
        "is_member": any("customThumbnail" in badge for badge in badges),
        "is_verified": bool(icons & {"VERIFIED", "VERIFIED_ARTIST"}),
        "video_offset_ms": int(offset_ms) if offset_ms not in (None, "") else None,
    }
    amount = (renderer.get("purchaseAmountText") or {}).get("simpleText")
    if amount:
        record["amount"] = amount
    return record


def _text(message: dict) -> str:
    """A message's runs: text as is, an emoji as its shortcut (or the emoji itself)."""
    if "simpleText" in message:
        return message["simpleText"]
    parts = []
    for run in message.get("runs", []):
        emoji = run.get("emoji")
        if emoji:
            parts.append((emoji.get("shortcuts") or [emoji.get("emojiId", "")])[0])
        else:
            parts.append(run.get("text", ""))
    return "".join(parts)


def _timestamp(usec: str | None) -> str | None:
    if not usec:
        return None
    moment = datetime.datetime.fromtimestamp(int(usec) / 1_000_000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _QuietLogger:
    """yt-dlp's messages go nowhere: failures come back as ChatUnavailable."""

    def debug(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        pass
