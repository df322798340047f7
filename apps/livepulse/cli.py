"""`waddlebot livepulse …`: export a YouTube live chat through the Data API."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from apps.livepulse import quota
from modules.youtube.data_api import YouTubeApiError, YouTubeDataApi
from modules.youtube.live_chat import ChatReader, live_chat_id
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


@livepulse.command("export-chat")
@click.argument("video_url")
@click.argument("out", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.argument("max_messages", required=False, type=click.IntRange(min=1))
@click.option("--ndjson", is_flag=True, help="write one JSON message per line as they arrive")
@click.option("--sleep-sec", default=0.5, show_default=True, type=click.FloatRange(min=0),
              help="least wait between two pages (the API's pollingIntervalMillis wins when longer)")
def export_chat(video_url, out, max_messages, ndjson, sleep_sec):
    """Export the live chat of VIDEO_URL to OUT (default <VIDEO_ID>_livechat.json or .ndjson).

    Stops after MAX_MESSAGES, when the chat ends, or on Ctrl+C, keeping what it has."""
    settings = get_settings()
    if not settings.yt_api_key:
        raise click.ClickException("set YT_API_KEY (a YouTube Data API key) to read live chats")
    video = video_id(video_url)
    if video is None:
        raise click.BadParameter(f"{video_url!r} is not a YouTube video URL or id", param_hint="VIDEO_URL")
    out = out or Path(f"{video}_livechat.{'ndjson' if ndjson else 'json'}")
    api = YouTubeDataApi(settings.youtube_api_url, settings.yt_api_key, timeout=settings.api_timeout_seconds)
    try:
        chat_id = live_chat_id(api, video)
    except YouTubeApiError as err:
        _record_quota(api.quota_used)
        raise click.ClickException(str(err)) from None
    reader = ChatReader(api, chat_id, min_sleep=sleep_sec, sleep=lambda seconds: time.sleep(seconds))
    chat_file = ChatFile(out, ndjson, video, chat_id)
    started, outcome = time.monotonic(), "the chat ended"
    try:
        for record in reader:
            chat_file.add(record)
            _progress(chat_file.count, started, api.quota_used)
            if max_messages and chat_file.count >= max_messages:
                outcome = f"{max_messages} messages reached"
                break
    except KeyboardInterrupt:
        outcome = "interrupted"
    except YouTubeApiError as err:
        outcome = f"stopped: {err}"
    finally:
        chat_file.close(reader.ended)
        _record_quota(api.quota_used)
    _progress(chat_file.count, started, api.quota_used, final=True)
    click.echo(f"{chat_file.count} messages written to {out} ({outcome})")


commands = [livepulse]
