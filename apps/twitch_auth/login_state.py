"""The OAuth `state` of logins in progress: random, single use, valid for 10 minutes and bound to
the browser session that started the login (so a link cannot be replayed or finished elsewhere)."""

from __future__ import annotations

import datetime
import hmac
from dataclasses import dataclass

from shared.crypto import digest, new_token, sign_token
from shared.db import utcnow
from shared.settings import get_settings

STATE_TTL = datetime.timedelta(minutes=10)
SESSION_KEY = "twitch_login_binding"
BOT_LINK_PURPOSE = "twitch_bot_login"


class StateError(ValueError):
    """The state is missing, unknown, from another session, already used or expired."""


@dataclass(frozen=True)
class PendingLogin:
    scopes: tuple[str, ...]
    next_url: str
    bot_name: str | None


def begin(db, session, scopes: list[str], next_url: str, bot_name: str | None) -> str:
    """Record a login about to be sent to Twitch; returns the state to send along."""
    binding = session.get(SESSION_KEY) or new_token()
    session[SESSION_KEY] = binding
    state, now = new_token(), utcnow()
    table = db.twitch_oauth_state
    table.insert(state_hash=digest(state), session_hash=digest(binding), scopes=scopes, next_url=next_url,
                 bot_name=bot_name, created_at=now, expires_at=now + STATE_TTL)
    # logins abandoned long ago are only kept to tell "expired" from "unknown" for a while
    db(table.expires_at < now - STATE_TTL).delete()
    return state


def consume(db, session, state: str | None) -> PendingLogin:
    """Use the state once; StateError says why it cannot be."""
    if not state:
        raise StateError("the state parameter is missing from Twitch's answer")
    table = db.twitch_oauth_state
    row = db(table.state_hash == digest(state)).select(limitby=(0, 1)).first()
    if row is None:
        raise StateError("this login was not started here (unknown state)")
    binding = session.get(SESSION_KEY)
    if not binding or not hmac.compare_digest(digest(binding), row.session_hash):
        raise StateError("this login was started in another browser session")
    if row.used_at is not None:
        raise StateError("this login link was already used")
    if row.expires_at < utcnow():
        raise StateError("this login took longer than 10 minutes and expired")
    if not db((table.id == row.id) & (table.used_at == None)).update(used_at=utcnow()):  # noqa: E711
        raise StateError("this login link was already used")
    return PendingLogin(scopes=tuple(row.scopes or ()), next_url=row.next_url or "/", bot_name=row.bot_name)


def bot_login_link(name: str) -> str:
    """A signed /twitch_auth/login link, valid 10 minutes, whose login is stored as bot `name`
    (signed, so nobody can swap their own account in for a bot through the public login page)."""
    link = sign_token(BOT_LINK_PURPOSE, int(STATE_TTL.total_seconds()), sub=name)
    return f"{get_settings().public_url}/twitch_auth/login?bot={link}"
