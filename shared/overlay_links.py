"""Secret, revocable links to a module's stream overlay (an OBS browser source has no cookie).

A module declares a links table with `define_table(db, name)` in its schema and serves its overlay
at a URL ending in the token. The token itself is never looked up in the clear: its SHA-256 finds
the link, and it is kept encrypted only so the admin page can show the URL again."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from pydal import Field

from shared.crypto import InvalidToken, decrypt, digest, encrypt, new_token
from shared.db import utcnow

MAX_DAYS = 3650
LABEL_LENGTH = 80
#: what the overlay page and its feed say for each state a link can be in (none of them is a 5xx)
STATE_MESSAGES = {
    "revoked": "This overlay link was revoked. Create a new link on the WaddleBot admin page.",
    "expired": "This overlay link has expired. Create a new link on the WaddleBot admin page.",
    "unknown": "This overlay link is not valid. Copy the link again from the WaddleBot admin page.",
}
STATE_STATUS = {"revoked": 410, "expired": 410, "unknown": 404}


class LinkError(ValueError):
    """The admin's input for a new link is unusable; the message says what to fix."""


@dataclass(frozen=True)
class Link:
    id: int
    label: str
    token: str | None  # None when WADDLEBOT_SECRET_KEY changed since the link was made
    state: str  # active, revoked, expired
    created_at: datetime.datetime
    expires_at: datetime.datetime


def define_table(db, name: str) -> None:
    """A links table `name` (token_hash is unique: index it in the module's INDEXES)."""
    db.define_table(
        name,
        Field("label", "string", length=LABEL_LENGTH, notnull=True),
        Field("token_hash", "string", length=64, notnull=True),
        Field("token_encrypted", "text", notnull=True),
        Field("created_at", "datetime", notnull=True),
        Field("expires_at", "datetime", notnull=True),
        Field("revoked_at", "datetime"),
    )


def _state(row, now: datetime.datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "active" if row.expires_at > now else "expired"


def create(table, label: str, days: str | int, now: datetime.datetime | None = None) -> str:
    """A new link's token, valid for `days` days; LinkError when the label or days are unusable."""
    label = (label or "").strip()
    if not label or len(label) > LABEL_LENGTH:
        raise LinkError(f"label: name the link (1 to {LABEL_LENGTH} characters), e.g. the OBS scene it is for")
    # isdecimal: isdigit also takes "²", which int() refuses
    if not (str(days).isascii() and str(days).isdecimal()) or not 1 <= int(days) <= MAX_DAYS:
        raise LinkError(f"days: a whole number from 1 to {MAX_DAYS} (got {days!r})")
    now = now or utcnow()
    token = new_token()
    table.insert(label=label, token_hash=digest(token), token_encrypted=encrypt(token), created_at=now,
                 expires_at=now + datetime.timedelta(days=int(days)))
    return token


def check(table, token: str, now: datetime.datetime | None = None) -> str:
    """The state of the link with this token: active, revoked, expired or unknown."""
    row = table._db(table.token_hash == digest(token or "")).select(limitby=(0, 1)).first()
    return "unknown" if row is None else _state(row, now or utcnow())


def revoke(table, link_id: int, now: datetime.datetime | None = None) -> bool:
    """Revoke the link (its overlay shows "revoked" from its next request); False if there is none."""
    db = table._db
    return bool(db((table.id == link_id) & (table.revoked_at == None)).update(revoked_at=now or utcnow()))  # noqa: E711


def links(table, now: datetime.datetime | None = None) -> list[Link]:
    """Every link, newest first."""
    now = now or utcnow()
    found = []
    for row in table._db(table).select(orderby=~table.id):
        try:
            token = decrypt(row.token_encrypted)
        except InvalidToken:
            token = None
        found.append(Link(row.id, row.label, token, _state(row, now), row.created_at, row.expires_at))
    return found
