"""The viewer poller: every POLL_INTERVAL_SECONDS, the live viewer count of every stream of every
event — YouTube through videos.list (one call per 50 ids, 1 quota unit each), Twitch through
Helix streams — written as one total sample per event plus one sample per stream, in one
transaction, then announced to the web processes (live.publish)."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from apps.livepulse import quota, twitch
from apps.livepulse.live import publish
from apps.livepulse.samples import Reading, last_ts, record_poll
from modules.twitch.oauth import OAuthError
from modules.youtube.data_api import MAX_IDS_PER_CALL, QuotaExceeded, YouTubeApiError, YouTubeDataApi
from shared.db import get_db, transaction, utcnow
from shared.helix.client import HelixUnavailable
from shared.registry import ModuleError, NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
MAX_WAIT = 300.0  # longest sleep: backoff cap, and how often a pause re-checks for new streams


@dataclass(frozen=True)
class Observation:
    state: str
    viewers: int | None = None
    title: str = ""
    channel_title: str = ""


@dataclass
class PlatformResult:
    observed: dict[str, Observation] = field(default_factory=dict)
    error: str | None = None
    skipped: bool = False  # no call made: quota paused or spent


def poll_youtube(db, video_ids: list[str], now: float) -> PlatformResult:
    """videos.list for every id; quota units counted; quotaExceeded pauses until the reset."""
    settings = get_settings()
    if not settings.yt_api_key:  # not configured: the health check says so; nothing to back off
        return PlatformResult(skipped=True)
    calls = math.ceil(len(video_ids) / MAX_IDS_PER_CALL)
    ledger = quota.status(db, now, settings.yt_daily_quota)
    if ledger.paused(now) or ledger.remaining < calls:
        return PlatformResult(skipped=True)
    api = YouTubeDataApi(settings.youtube_api_url, settings.yt_api_key, timeout=settings.api_timeout_seconds)
    result = PlatformResult()
    try:
        for start in range(0, len(video_ids), MAX_IDS_PER_CALL):
            for video in api.videos(video_ids[start:start + MAX_IDS_PER_CALL]).values():
                result.observed[video.video_id] = Observation(video.state, video.viewers, video.title,
                                                              video.channel_title)
    except QuotaExceeded as err:
        until = quota.pause(db, now, str(err))
        log.warning("YouTube quota exceeded; no YouTube calls until %s (Pacific midnight)",
                    time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until)))
        result.skipped = True
    except YouTubeApiError as err:
        result.error = str(err)
    finally:
        quota.add_units(db, api.quota_used, now)
        if not result.skipped:
            quota.note_error(db, now, result.error)
    return result


def poll_twitch(logins: list[str]) -> PlatformResult:
    try:
        live = twitch.live_streams(logins)
    except NotConfigured:  # no Twitch app credentials: the health check says so
        return PlatformResult(skipped=True)
    except (HelixUnavailable, twitch.TwitchLookupError, ModuleError, OAuthError) as err:
        return PlatformResult(error=f"Twitch: {err}")
    return PlatformResult(observed={
        login: Observation("live", live[login].viewers, live[login].title) if login in live
        else Observation("offline") for login in logins})


def pollable_streams(db):
    """Every stream still worth a call: an ended YouTube broadcast never comes back."""
    query = ~((db.lp_stream.platform == "youtube") & (db.lp_stream.state == "ended"))
    return db(query).select(orderby=db.lp_stream.id)


class Poller:
    def __init__(self, clock=time.time):
        self.clock = clock
        self.failures = 0

    def poll_once(self) -> float:
        """One poll of every stream; returns the seconds to wait before the next one."""
        db, now = get_db(), self.clock()
        streams = pollable_streams(db)
        youtube_ids = sorted({row.external_id for row in streams if row.platform == "youtube"})
        logins = sorted({row.external_id for row in streams if row.platform == "twitch"})
        with transaction(db):
            youtube = poll_youtube(db, youtube_ids, now) if youtube_ids else PlatformResult()
        twitch_result = poll_twitch(logins) if logins else PlatformResult()
        results = {"youtube": youtube, "twitch": twitch_result}
        written = self._write(db, streams, results, now)
        for event_id in written:
            publish(event_id)
        errors = [result.error for result in results.values() if result.error]
        for error in errors:
            log.warning("livepulse poll: %s", error)
        return self._next_wait(db, now, len(youtube_ids), bool(logins), errors)

    def _write(self, db, streams, results: dict[str, PlatformResult], now: float) -> list[int]:
        """One transaction: per event with at least one observed stream, the total and every
        stream's reading (unobserved streams as unknown); the streams' last state."""
        by_event = defaultdict(list)
        for row in streams:
            by_event[row.event_id].append(row)
        written = []
        with transaction(db):
            for event_id, rows in by_event.items():
                readings = []
                for row in rows:
                    seen = results[row.platform].observed.get(row.external_id)
                    readings.append(Reading(row.id, seen.state, seen.viewers) if seen else
                                    Reading(row.id, "unknown", None))
                    if seen:
                        row.update_record(state=seen.state, viewers=seen.viewers, polled_at=utcnow(),
                                          title=seen.title or row.title,
                                          channel_title=seen.channel_title or row.channel_title)
                if any(results[row.platform].observed.get(row.external_id) for row in rows):
                    record_poll(db, event_id, max(int(now), (last_ts(db, event_id) or 0) + 1), readings)
                    written.append(event_id)
        return written

    def _next_wait(self, db, now: float, youtube_count: int, has_twitch: bool, errors: list[str]) -> float:
        settings = get_settings()
        base = float(settings.poll_interval_seconds)
        if errors:
            self.failures += 1
            return min(MAX_WAIT, base * 2 ** self.failures)
        self.failures = 0
        if not youtube_count:
            return base
        ledger = quota.status(db, now, settings.yt_daily_quota)
        db.commit()
        calls = math.ceil(youtube_count / MAX_IDS_PER_CALL)
        to_reset = quota.next_reset(now) - now
        if ledger.paused(now) or ledger.remaining < calls:
            return base if has_twitch else min(MAX_WAIT, max(base, to_reset))
        return quota.stretched_interval(base, calls, ledger.remaining, to_reset)

