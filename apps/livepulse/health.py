"""livepulse health: configuration, the YouTube quota, whether the poller keeps up (no network)."""

from __future__ import annotations

import datetime
import time

from apps.livepulse import quota
from shared.db import get_db, utcnow
from shared.registry import Health
from shared.settings import get_settings


def check() -> Health:
    settings = get_settings()
    youtube, twitch = bool(settings.yt_api_key), bool(settings.twitch_app_id and settings.twitch_app_secret)
    if not (youtube or twitch):
        return Health("not_configured", "set YT_API_KEY (YouTube) and/or TWITCH_APP_ID + TWITCH_APP_SECRET (Twitch)")
    db = get_db()
    now = time.time()
    ledger = quota.status(db, now, settings.yt_daily_quota)
    platforms = {row.platform for row in db(db.lp_stream.state != "ended").select(db.lp_stream.platform,
                                                                                  distinct=True)}
    newest = db(db.lp_stream).select(db.lp_stream.polled_at.max()).first()[db.lp_stream.polled_at.max()]
    db.commit()
    data = {"quota_units": ledger.units, "quota_limit": ledger.limit, "platforms": sorted(platforms)}
    problems = []
    if "youtube" in platforms and not youtube:
        problems.append("YouTube streams are not polled: YT_API_KEY is not set")
    if "twitch" in platforms and not twitch:
        problems.append("Twitch streams are not polled: TWITCH_APP_ID/TWITCH_APP_SECRET are not set")
    if ledger.paused(now):
        problems.append("YouTube quota exceeded; polling resumes at the Pacific-midnight reset")
    stale = datetime.timedelta(seconds=max(60, 4 * settings.poll_interval_seconds))
    if platforms and newest is not None and utcnow() - newest > stale:
        problems.append(f"no stream polled since {newest:%Y-%m-%d %H:%M} UTC: is the worker running?")
    if problems:
        return Health("degraded", "; ".join(problems), data)
    return Health("ok", f"{ledger.units}/{ledger.limit} YouTube quota units used today", data)
