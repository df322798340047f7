"""!reco: submission tickets, link normalisation, oEmbed metadata, and the recommendation queue.

A viewer's `!reco <comment>` opens a ticket (a random link, single use, RECO_TICKET_TTL_MINUTES);
submitting a YouTube or Spotify link through it stores a recommendation and its `recommendation`
activity in one transaction. Every change of a recommendation also writes a
`recommendation_event` row, which the live feed (SSE) polls.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import re
from dataclasses import dataclass

from apps.twitch_chat.schema import RECOMMENDATION_STATUSES
from modules import oembed
from modules.spotify import urls as spotify_urls
from modules.youtube import urls as youtube_urls
from shared.cache import get_cache
from shared.crypto import decrypt, digest, encrypt, new_token
from shared.db import transaction, utcnow
from shared.outbox import record_activity
from shared.settings import get_settings

log = logging.getLogger(__name__)

PLATFORMS = ("youtube", "spotify")
ACCEPTED_LINKS = (
    "YouTube videos: youtube.com/watch?v=…, youtu.be/…, youtube.com/shorts/…, youtube.com/live/…, "
    "youtube.com/embed/…, m.youtube.com and music.youtube.com links",
    "Spotify: open.spotify.com/ track, album, playlist, episode, show or artist links (also with /intl-xx/) "
    "and spotify:track:… URIs",
)
OEMBED_CACHE_SECONDS = 24 * 3600
METADATA_MAX_ATTEMPTS = 12
KEEP_DAYS = 7  # unused tickets and change events older than this are deleted
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class RecoError(Exception):
    """A request that cannot be served as sent; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class RecoCooldown(Exception):
    """The viewer asked for a new link too soon after the last one."""

    def __init__(self, remaining: int):
        super().__init__(f"wait {remaining} s")
        self.remaining = remaining


@dataclass(frozen=True)
class Link:
    platform: str
    kind: str
    media_id: str
    url: str


def iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


# --- tickets ---------------------------------------------------------------------------------
def submit_url(token: str) -> str:
    return f"{get_settings().public_url}/twitch_chat/submit/{token}"


def open_ticket(db, *, channel_id: str, channel_login: str, user_id: str, user_login: str, user_name: str,
                comment: str) -> tuple[str, object, bool]:
    """(token, ticket, created): the viewer's open ticket in this channel, or a new one.
    Raises RecoCooldown when the last ticket was opened less than RECO_COOLDOWN_SECONDS ago."""
    settings, now = get_settings(), utcnow()
    table, open_key = db.reco_ticket, f"{channel_id}:{user_id}"
    current = db(table.open_key == open_key).select(limitby=(0, 1)).first()
    if current is not None and current.expires_at > now:
        return decrypt(current.token_encrypted), current, False
    if current is not None:
        current.update_record(open_key=None)
    last = db((table.channel_id == channel_id) & (table.user_id == user_id)).select(
        table.created_at, orderby=~table.created_at, limitby=(0, 1)).first()
    if last is not None:
        waited = (now - last.created_at).total_seconds()
        if waited < settings.reco_cooldown_seconds:
            raise RecoCooldown(int(settings.reco_cooldown_seconds - waited + 0.999))
    token = new_token()
    ticket_id = table.insert(
        token_hash=digest(token), token_encrypted=encrypt(token), open_key=open_key, channel_id=channel_id,
        channel_login=channel_login, user_id=user_id, user_login=user_login, user_name=user_name,
        comment=comment[:500], created_at=now,
        expires_at=now + datetime.timedelta(minutes=settings.reco_ticket_ttl_minutes))
    return token, table[ticket_id], True


def find_ticket(db, token: str):
    """The ticket of a link, whatever its state; RecoError 404 when there is none."""
    ticket = None
    if _TOKEN.match(token or ""):
        ticket = db(db.reco_ticket.token_hash == digest(token)).select(limitby=(0, 1)).first()
    if ticket is None:
        raise RecoError(404, "This recommendation link does not exist. Type !reco in the chat to get one.")
    return ticket


def ticket_status(ticket) -> str:
    if ticket.used_at is not None:
        return "used"
    return "expired" if ticket.expires_at <= utcnow() else "open"


def open_ticket_for(db, token: str):
    """The ticket of a link that can still be used; RecoError 404, 409 (used) or 410 (expired)."""
    ticket = find_ticket(db, token)
    status = ticket_status(ticket)
    if status == "used":
        raise RecoError(409, "This link was already used: each !reco link takes one recommendation.")
    if status == "expired":
        raise RecoError(410, "This link has expired. Type !reco in the chat to get a new one.")
    return ticket


def ticket_view(ticket) -> dict:
    return {"user": ticket.user_name or ticket.user_login, "comment": ticket.comment or "",
            "channel": ticket.channel_login, "expires_at": iso(ticket.expires_at), "status": ticket_status(ticket)}


def minutes_left(ticket) -> int:
    return max(0, math.ceil((ticket.expires_at - utcnow()).total_seconds() / 60))


# --- links and metadata ----------------------------------------------------------------------
def not_accepted_message() -> str:
    return "This is not a link we accept. Send one of: " + "; ".join(ACCEPTED_LINKS) + "."


def parse_link(value: str) -> Link:
    """A YouTube or Spotify link, normalised; RecoError 422 listing the accepted forms otherwise."""
    value = (value or "").strip()
    if not value or len(value) > 2048:
        raise RecoError(422, not_accepted_message())
    video = youtube_urls.video_id(value) if not youtube_urls.VIDEO_ID.match(value) else None
    if video:
        return Link("youtube", "video", video, youtube_urls.watch_url(video))
    spotify = spotify_urls.parse(value)
    if spotify:
        return Link("spotify", spotify.kind, spotify.id, spotify.url)
    raise RecoError(422, not_accepted_message())


def _oembed_endpoint(platform: str) -> str:
    settings = get_settings()
    return settings.youtube_oembed_url if platform == "youtube" else settings.spotify_oembed_url


def lookup_metadata(link: Link) -> oembed.OEmbed | None:
    """Title, author and thumbnail (cached a day); None while the provider cannot be reached.
    RecoError 422 when the provider says the media is not available."""
    cache, key = get_cache("oembed"), digest(link.url)
    cached = cache.get(key)
    if cached is not None:
        return oembed.OEmbed.from_dict(json.loads(cached))
    try:
        metadata = oembed.fetch(_oembed_endpoint(link.platform), link.url, get_settings().oembed_timeout_seconds)
    except oembed.OEmbedUnavailable:
        raise RecoError(422, "This link is not available (private, removed or not embeddable). "
                             "Try another one.") from None
    except oembed.OEmbedError as err:
        log.warning("oEmbed for %s failed, metadata left pending: %s", link.url, err)
        return None
    cache.set(key, json.dumps(metadata.as_dict()).encode(), OEMBED_CACHE_SECONDS)
    return metadata


def _metadata_fields(metadata: oembed.OEmbed) -> dict:
    thumbnail = metadata.thumbnail_url if metadata.thumbnail_url.startswith(("https://", "http://")) else ""
    return {"title": metadata.title[:500], "author_name": metadata.author_name[:255],
            "thumbnail_url": thumbnail[:1024], "metadata_status": "complete", "metadata_next_at": None}


# --- submitting ------------------------------------------------------------------------------
def submit(db, token: str, raw_url: str):
    """Store the recommendation of a ticket and its activity (caller's transaction); returns it.
    RecoError 404/409/410 for the ticket, 422 for the link."""
    ticket = open_ticket_for(db, token)
    link = parse_link(raw_url)
    metadata = lookup_metadata(link)
    now = utcnow()
    claimed = db((db.reco_ticket.id == ticket.id) & (db.reco_ticket.used_at == None)).update(  # noqa: E711
        used_at=now, open_key=None)
    if not claimed:
        raise RecoError(409, "This link was already used: each !reco link takes one recommendation.")
    viewer = {"channel_id": ticket.channel_id, "channel_login": ticket.channel_login, "user_id": ticket.user_id,
              "user_login": ticket.user_login, "user_name": ticket.user_name}
    details = _metadata_fields(metadata) if metadata else {"metadata_status": "pending", "metadata_next_at": now}
    recommendation_id = db.recommendation.insert(
        ticket_id=ticket.id, comment=ticket.comment, platform=link.platform, kind=link.kind, media_id=link.media_id,
        url=link.url, status="new", created_at=now, updated_at=now, **viewer, **details)
    activity_id = record_activity(
        db, activity_type="recommendation", points=get_settings().reco_points, source="twitch_chat",
        source_id=f"recommendation:{recommendation_id}", **viewer,
        details={"recommendation_id": recommendation_id, "url": link.url, "platform": link.platform,
                 "kind": link.kind, "title": metadata.title if metadata else None, "comment": ticket.comment})
    db(db.recommendation.id == recommendation_id).update(activity_id=activity_id)
    _event(db, recommendation_id, "created")
    return db.recommendation[recommendation_id]


def recommendation_of(db, ticket):
    return db(db.recommendation.ticket_id == ticket.id).select(limitby=(0, 1)).first()


def complete_pending_metadata(db, limit: int = 20) -> int:
    """Ask oEmbed again for recommendations stored while it was down (commits per row); returns
    how many were tried. Backs off exponentially; gives up after METADATA_MAX_ATTEMPTS."""
    table, now = db.recommendation, utcnow()
    with transaction(db):
        due = db((table.metadata_status == "pending") & (table.metadata_next_at <= now)).select(
            table.id, table.platform, table.url, table.metadata_attempts, orderby=table.metadata_next_at,
            limitby=(0, limit))
    for row in due:
        try:
            found = oembed.fetch(_oembed_endpoint(row.platform), row.url, get_settings().oembed_timeout_seconds)
            fields = _metadata_fields(found)
        except oembed.OEmbedUnavailable:
            fields = {"metadata_status": "unavailable", "metadata_next_at": None}
        except oembed.OEmbedError as err:
            attempts = row.metadata_attempts + 1
            delay = datetime.timedelta(seconds=min(3600, 30 * 2 ** attempts))
            fields = {"metadata_attempts": attempts, "metadata_next_at": utcnow() + delay,
                      "metadata_status": "failed" if attempts >= METADATA_MAX_ATTEMPTS else "pending"}
            log.info("oEmbed for recommendation %s still failing (%s)", row.id, err)
        with transaction(db):
            db(table.id == row.id).update(updated_at=utcnow(), **fields)
            _event(db, row.id, "updated")
    return len(due)


def prune(db) -> None:
    """Delete unused tickets and change events older than KEEP_DAYS (caller's transaction)."""
    cutoff = utcnow() - datetime.timedelta(days=KEEP_DAYS)
    db((db.reco_ticket.expires_at < cutoff) & (db.reco_ticket.used_at == None)).delete()  # noqa: E711
    db(db.recommendation_event.created_at < cutoff).delete()


# --- the streamer's queue --------------------------------------------------------------------
def _event(db, recommendation_id: int, action: str) -> None:
    db.recommendation_event.insert(recommendation_id=recommendation_id, action=action, created_at=utcnow())


def check_filters(status: str | None, platform: str | None) -> None:
    if status and status not in RECOMMENDATION_STATUSES:
        raise RecoError(422, f"status must be one of {', '.join(RECOMMENDATION_STATUSES)}")
    if platform and platform not in PLATFORMS:
        raise RecoError(422, f"platform must be one of {', '.join(PLATFORMS)}")


def list_recommendations(db, *, status: str | None = None, platform: str | None = None,
                         channel: str | None = None, limit: int = 100, before: int | None = None) -> list:
    """Newest first, filtered; `before` (an id) pages further back."""
    check_filters(status, platform)
    table = db.recommendation
    query = table.id > 0
    if status:
        query &= table.status == status
    if platform:
        query &= table.platform == platform
    if channel:
        query &= table.channel_login == channel.strip().lstrip("#").lower()
    if before:
        query &= table.id < before
    return list(db(query).select(orderby=~table.id, limitby=(0, max(1, min(limit, 500)))))


def channels(db) -> list[str]:
    table = db.recommendation
    return [row.channel_login for row in db(table).select(table.channel_login, distinct=True,
                                                          orderby=table.channel_login)]


def get_recommendation(db, recommendation_id: int):
    row = db.recommendation(recommendation_id) if 0 < recommendation_id < 2**63 else None
    if row is None:
        raise RecoError(404, f"no recommendation {recommendation_id}")
    return row


def set_status(db, recommendation_id: int, status: str):
    """Accept, mark played or reject a recommendation (caller's transaction)."""
    if status not in RECOMMENDATION_STATUSES:
        raise RecoError(422, f"status must be one of {', '.join(RECOMMENDATION_STATUSES)}")
    row = get_recommendation(db, recommendation_id)
    row.update_record(status=status, updated_at=utcnow())
    _event(db, recommendation_id, "updated")
    return row


def delete_recommendation(db, recommendation_id: int) -> None:
    get_recommendation(db, recommendation_id).delete_record()
    _event(db, recommendation_id, "deleted")


def as_dict(row) -> dict:
    return {"id": row.id, "status": row.status, "platform": row.platform, "kind": row.kind, "url": row.url,
            "title": row.title, "author_name": row.author_name, "thumbnail_url": row.thumbnail_url,
            "metadata_status": row.metadata_status, "comment": row.comment or "", "channel": row.channel_login,
            "user": row.user_name or row.user_login, "user_login": row.user_login,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def last_event_id(db) -> int:
    top = db.recommendation_event.id.max()
    return db(db.recommendation_event).select(top).first()[top] or 0


def events_after(db, event_id: int, limit: int = 100) -> list[dict]:
    """Changes after `event_id`, oldest first: {id, action, recommendation} (only the id once deleted)."""
    events = db(db.recommendation_event.id > event_id).select(orderby=db.recommendation_event.id,
                                                             limitby=(0, limit))
    rows = {row.id: row for row in db(db.recommendation.id.belongs(
        {event.recommendation_id for event in events})).select()} if events else {}
    return [{"id": event.id, "action": event.action,
             "recommendation": as_dict(rows[event.recommendation_id]) if event.recommendation_id in rows
             else {"id": event.recommendation_id}} for event in events]
