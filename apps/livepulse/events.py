"""Events and their streams, as the admin manages them: create, edit, delete events; add a stream
by YouTube URL or video id, or by Twitch login; remove it."""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.livepulse import twitch
from apps.livepulse.params import InputError
from modules.twitch.oauth import OAuthError
from modules.youtube.urls import video_id, watch_url
from shared.db import utcnow
from shared.helix.client import HelixUnavailable
from shared.registry import ModuleError

PLATFORMS = ("auto", "youtube", "twitch")


class LookupFailed(Exception):
    """A Twitch login could not be checked right now (Helix unavailable or not configured)."""


def _twitch_login(value: str) -> str | None:
    if "twitch.tv" in value:
        try:
            parts = urlsplit(value if "://" in value else f"https://{value}")
        except ValueError:  # an unclosed [IPv6] host, say
            return None
        value = parts.path.strip("/").split("/")[0]
    return value.lower() if twitch.LOGIN.match(value) else None


def parse_stream_ref(value: str, platform: str = "auto") -> tuple[str, str]:
    """(platform, external id) from what the admin typed: a YouTube watch/youtu.be/live/shorts
    URL or an 11-character video id, a twitch.tv URL or a Twitch login."""
    value = (value or "").strip()
    if platform not in PLATFORMS:
        raise InputError(f"platform must be one of {', '.join(PLATFORMS)}")
    if not value:
        raise InputError("stream: enter a YouTube URL or video id, or a Twitch login")
    if platform == "twitch" or (platform == "auto" and "twitch.tv" in value):
        login = _twitch_login(value)
        if login is None:
            raise InputError(f"stream: {value!r} is not a Twitch login (3–25 letters, digits or _) or twitch.tv URL")
        return "twitch", login
    found = video_id(value)
    if found:
        return "youtube", found
    if platform == "auto" and _twitch_login(value):
        return "twitch", value.lower()
    raise InputError(f"stream: {value!r} is not a YouTube URL (watch, youtu.be, live/, shorts) or video id"
                     + (" or a Twitch login" if platform == "auto" else ""))


def stream_url(row) -> str:
    return watch_url(row.external_id) if row.platform == "youtube" else f"https://www.twitch.tv/{row.external_id}"


def _event_fields(name: str, description: str) -> dict:
    name = (name or "").strip()
    if not name:
        raise InputError("name: an event needs a name")
    if len(name) > 200:
        raise InputError("name: at most 200 characters")
    return {"name": name, "description": (description or "").strip(), "updated_at": utcnow()}


def create_event(db, name: str, description: str = "") -> int:
    fields = _event_fields(name, description)
    return db.lp_event.insert(created_at=fields["updated_at"], **fields)


def update_event(db, event_id: int, name: str, description: str = "") -> None:
    db(db.lp_event.id == event_id).update(**_event_fields(name, description))


def add_stream(db, event_id: int, value: str, platform: str = "auto") -> int:
    """Add a stream to the event; a Twitch login must exist. Raises InputError, LookupFailed."""
    platform, external_id = parse_stream_ref(value, platform)
    exists = db((db.lp_stream.event_id == event_id) & (db.lp_stream.platform == platform)
                & (db.lp_stream.external_id == external_id)).count()
    if exists:
        raise InputError(f"stream: {platform} {external_id} is already part of this event")
    title = channel_title = None
    if platform == "twitch":
        try:
            channel = twitch.find_channel(external_id)
        except (HelixUnavailable, twitch.TwitchLookupError, ModuleError, OAuthError) as err:
            raise LookupFailed(f"could not check the Twitch login {external_id} now: {err}") from None
        if channel is None:
            raise InputError(f"stream: there is no Twitch user named {external_id}")
        channel_title = channel.display_name
    return db.lp_stream.insert(event_id=event_id, platform=platform, external_id=external_id, title=title,
                               channel_title=channel_title, state="unknown", created_at=utcnow())


def remove_stream(db, event_id: int, stream_id: int) -> bool:
    """Remove a stream of this event with its samples and roll-ups; False if it is not one."""
    query = (db.lp_stream.id == stream_id) & (db.lp_stream.event_id == event_id)
    if not db(query).count():
        return False
    db((db.lp_rollup.event_id == event_id) & (db.lp_rollup.stream_id == stream_id)).delete()
    db(query).delete()
    return True
