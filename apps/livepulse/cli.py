"""`waddlebot livepulse …`: export a YouTube live chat (Data API) or chat replay (yt-dlp)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from apps.livepulse import quota
from modules.youtube.chat_replay import ChatUnavailable, replay_records
from modules.youtube.data_api import YouTubeApiError, YouTubeDataApi
from modules.youtube.live_chat import ChatNotLive, ChatReader, live_chat_id
from modules.youtube.urls import video_id
from shared.db import get_db, transaction
from shared.settings import get_settings

log = logging.getLogger(__name__)


class ChatFile:
    """NDJSON: one line per message, flushed as it comes (constant memory). JSON: the messages
    are kept and written as one document at the end (also after Ctrl+C)."""

    def __init__(self, path: Path, ndjson: bool, video: str, chat_id: str):
        self.path, self.ndjson, self.video, self.chat_id = path, ndjson, video, chat_id
        self.messages: list[dict] = []
        self.count = 0
        self._handle = path.open("w", encoding="utf-8") if ndjson else None

    def add(self, record: dict) -> None:
        self.count += 1
        if self._handle:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._handle.flush()
        else:
            self.messages.append(record)

    def close(self, ended: bool) -> None:
        if self._handle:
            self._handle.close()
            return
        document = {"videoId": self.video, "liveChatId": self.chat_id, "count": self.count, "chatEnded": ended,
                    "messages": self.messages}
        self.path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")


def _progress(count: int, started: float, units: int, final: bool = False) -> None:
    rate = count / max(time.monotonic() - started, 1e-6)
    click.echo(f"\r{count} messages · {rate:.1f} msg/s · {units} quota units", nl=final, err=True)


def _record_quota(units: int) -> None:
    """Count the chat's units in the day's ledger the poller budgets with."""
    try:
        with transaction(get_db()) as db:
            quota.add_units(db, units, time.time())
    except Exception as err:  # the exported file matters more than the ledger
        log.warning("could not record %d YouTube quota units: %s", units, err)


@click.group("livepulse")
def livepulse():
    """LivePulse: live viewers of event streams, YouTube live chat export."""


@dataclass
class ChatSource:
    """Where an export reads its messages: the Data API (a live chat) or yt-dlp (a replay)."""

    records: Iterator[dict]
    chat_id: str | None
    ended: Callable[[], bool]
    quota_used: Callable[[], int]


def _data_api_source(api: YouTubeDataApi, video: str, sleep_sec: float) -> ChatSource | None:
    """The live chat through the Data API; None when the video is not live (read its replay)."""
    try:
        chat_id = live_chat_id(api, video)
    except ChatNotLive:
        _record_quota(api.quota_used)
        return None
    except YouTubeApiError as err:
        _record_quota(api.quota_used)
        raise click.ClickException(str(err)) from None
    reader = ChatReader(api, chat_id, min_sleep=sleep_sec, sleep=lambda seconds: time.sleep(seconds))
    return ChatSource(iter(reader), chat_id, lambda: reader.ended, lambda: api.quota_used)


def _replay_source(video: str, live: bool) -> ChatSource:
    """The chat through yt-dlp: no key and no quota; a replay unless `live`."""
    click.echo(f"reading the {'live chat' if live else 'chat replay'} of {video} with yt-dlp…", err=True)
    try:
        records = list(replay_records(video, live=live))
    except ChatUnavailable as err:
        raise click.ClickException(str(err)) from None
    return ChatSource(iter(records), None, lambda: True, lambda: 0)


@livepulse.command("export-chat")
@click.argument("video_url")
@click.argument("out", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.argument("max_messages", required=False, type=click.IntRange(min=1))
@click.option("--ndjson", is_flag=True, help="write one JSON message per line as they arrive")
@click.option("--sleep-sec", default=0.5, show_default=True, type=click.FloatRange(min=0),
              help="least wait between two pages (the API's pollingIntervalMillis wins when longer)")
@click.option("--live", is_flag=True, help="without YT_API_KEY: read a chat that is still live, not a replay")
def export_chat(video_url, out, max_messages, ndjson, sleep_sec, live):
    """Export the live chat or the chat replay of VIDEO_URL to OUT (default <VIDEO_ID>_livechat.json
    or .ndjson).

    With YT_API_KEY a live chat is read through the YouTube Data API; a replay (a stream that
    ended), or any chat without a key, is read through yt-dlp. Stops after MAX_MESSAGES, when the
    chat ends, or on Ctrl+C, keeping what it has."""
    settings = get_settings()
    video = video_id(video_url)
    if video is None:
        raise click.BadParameter(f"{video_url!r} is not a YouTube video URL or id", param_hint="VIDEO_URL")
    out = out or Path(f"{video}_livechat.{'ndjson' if ndjson else 'json'}")
    source = None
    if settings.yt_api_key:
        api = YouTubeDataApi(settings.youtube_api_url, settings.yt_api_key, timeout=settings.api_timeout_seconds)
        source = _data_api_source(api, video, sleep_sec)
    source = source or _replay_source(video, live)
    _export(source, ChatFile(out, ndjson, video, source.chat_id), max_messages)


def _export(source: ChatSource, chat_file: ChatFile, max_messages: int | None) -> None:
    started, outcome = time.monotonic(), "the chat ended"
    try:
        for record in source.records:
            chat_file.add(record)
            _progress(chat_file.count, started, source.quota_used())
            if max_messages and chat_file.count >= max_messages:
                outcome = f"{max_messages} messages reached"
                break
    except KeyboardInterrupt:
        outcome = "interrupted"
    except YouTubeApiError as err:
        outcome = f"stopped: {err}"
    finally:
        chat_file.close(source.ended())
        if source.quota_used():
            _record_quota(source.quota_used())
    _progress(chat_file.count, started, source.quota_used(), final=True)
    click.echo(f"{chat_file.count} messages written to {chat_file.path} ({outcome})")


commands = [livepulse]
