"""Filters and cursor pagination of the stored events and activities (JSON API and admin pages)."""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_TYPE = re.compile(r"^[a-z0-9_.]{1,100}$")
_ID = re.compile(r"^[0-9]{1,20}$")
_LOGIN = re.compile(r"^[A-Za-z0-9_]{1,25}$")
FILTER_NAMES = ("type", "channel", "user", "since", "until")


class FilterError(ValueError):
    """A query parameter is malformed; the message names it."""


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    channel: str | None = None
    user: str | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    cursor: int | None = None
    limit: int = DEFAULT_LIMIT


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str) -> int:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "id" or not _ID.match(number):
        raise FilterError("cursor: not a cursor this API gave (use next_cursor of the previous page)")
    return int(number)


def parse_time(name: str, value: str) -> datetime.datetime:
    """ISO 8601 (a date, or a date and time with an optional offset; no offset = UTC) → naive UTC."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise FilterError(f"{name}: {value!r} is not an ISO 8601 time (e.g. 2024-05-01T18:00:00Z)") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is after the last representable time
            raise FilterError(f"{name}: {value!r} is out of range") from None
    return parsed


def _limit(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:
        raise FilterError(f"limit: a whole number from 1 to {MAX_LIMIT} (got {value!r})")
    return int(value)


def _name(param: str, value: str | None) -> str | None:
    if not value:
        return None
    if not (_ID.match(value) or _LOGIN.match(value)):
        raise FilterError(f"{param}: a Twitch id (digits) or login (got {value!r})")
    return value


def parse_filters(query: Mapping[str, str]) -> Filters:
    """The filters of a request's query string; FilterError names the bad parameter."""
    event_type = query.get("type") or None
    if event_type is not None and not _TYPE.match(event_type):
        raise FilterError(f"type: an EventSub type such as channel.follow (got {event_type!r})")
    since = parse_time("since", query["since"]) if query.get("since") else None
    until = parse_time("until", query["until"]) if query.get("until") else None
    if since and until and since > until:
        raise FilterError("since: must not be after until")
    return Filters(type=event_type, channel=_name("channel", query.get("channel")),
                   user=_name("user", query.get("user")), since=since, until=until,
                   cursor=decode_cursor(query["cursor"]) if query.get("cursor") else None,
                   limit=_limit(query.get("limit")))


def iso(value: datetime.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with Z."""
    return value.isoformat() + "Z" if value else None


def _page(db, table, query, time_field, filters: Filters) -> tuple[list, str | None]:
    if filters.since:
        query &= table[time_field] >= filters.since
    if filters.until:
        query &= table[time_field] <= filters.until
    if filters.cursor is not None:
        query &= table.id < filters.cursor
    rows = db(query).select(orderby=~table.id, limitby=(0, filters.limit + 1))
    more = len(rows) > filters.limit
    rows = rows[:filters.limit]
    return list(rows), encode_cursor(rows[-1].id) if more else None


def _channel_id(db, channel: str) -> str:
    """A channel filter as a broadcaster id: a login is looked up among the followed channels."""
    if _ID.match(channel):
        return channel
    row = db(db.twitch_channel.login == channel.lower()).select(db.twitch_channel.broadcaster_id).first()
    if row is None:
        raise FilterError(f"channel: {channel!r} is not a followed channel; give its broadcaster id")
    return row.broadcaster_id


def list_events(db, filters: Filters) -> tuple[list[dict], str | None]:
    """Stored events, newest first: (rows, next cursor or None)."""
    table = db.eventsub_event
    query = table.id > 0
    if filters.type:
        query &= table.event_type == filters.type
    if filters.channel:
        query &= table.channel_id == _channel_id(db, filters.channel)
    if filters.user:
        if not _ID.match(filters.user):
            raise FilterError("user: events are filtered by Twitch user id (digits)")
        query &= table.user_id == filters.user
    rows, cursor = _page(db, table, query, "received_at", filters)
    return [{"id": row.id, "message_id": row.message_id, "type": row.event_type, "version": row.event_version,
             "transport": row.transport, "subscription_id": row.subscription_id, "channel_id": row.channel_id,
             "user_id": row.user_id, "received_at": iso(row.received_at), "event": row.event} for row in rows], cursor


def list_activities(db, filters: Filters) -> tuple[list[dict], str | None]:
    """Activities (every source), newest first: (rows, next cursor or None)."""
    table = db.activity
    query = table.id > 0
    if filters.type:
        query &= table.activity_type == filters.type
    if filters.channel:
        query &= (table.channel_id == filters.channel) | (table.channel_login == filters.channel.lower())
    if filters.user:
        query &= (table.user_id == filters.user) | (table.user_login == filters.user.lower())
    rows, cursor = _page(db, table, query, "created_at", filters)
    return [{"id": row.id, "type": row.activity_type, "points": row.points, "platform": row.platform,
             "channel_id": row.channel_id, "channel_login": row.channel_login, "user_id": row.user_id,
             "user_login": row.user_login, "user_name": row.user_name, "source": row.source,
             "source_id": row.source_id, "created_at": iso(row.created_at), "details": row.details or {}}
            for row in rows], cursor
