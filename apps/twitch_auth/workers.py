"""Background service of twitch_auth: validates every stored token at start-up and then every
TOKEN_VALIDATE_INTERVAL_SECONDS, as Twitch requires of apps that keep tokens."""

from __future__ import annotations

import datetime
import logging
import threading
from collections import Counter

from modules.twitch import oauth
from modules.twitch.oauth import OAuthError
from shared.db import get_db, utcnow
from shared.registry import NeedsReauth, NotReady
from shared.settings import get_settings
from shared.tokens import mark_needs_relogin, refresh_account, reveal

log = logging.getLogger(__name__)


def validate_stored_tokens() -> dict[str, int]:
    """One round: validate every stored token at Twitch. A token Twitch calls invalid is marked
    so, then refreshed; a refused refresh leaves the account marked "needs re-login".
    Returns how many accounts ended valid, refreshed, needs_relogin, invalid or unreachable."""
    db = get_db()
    table = db.twitch_token
    accounts = [row.account for row in db(table.needs_relogin == False).select(table.account)]  # noqa: E712
    db.commit()
    return dict(Counter(_validate_account(db, account) for account in accounts))


def _validate_account(db, account: str) -> str:
    row = db(db.twitch_token.account == account).select(limitby=(0, 1)).first()
    if row is None:
        return "gone"
    settings = get_settings()
    # only while the token is the one validated: a refresh meanwhile must not be overwritten
    current = (db.twitch_token.id == row.id) & (db.twitch_token.version == row.version)
    now = utcnow()
    try:
        info = oauth.validate(settings.twitch_id_url, reveal(row, row.access_token), settings.helix_timeout_s)
    except NeedsReauth:
        mark_needs_relogin(db, row)
        db.commit()
        return "needs_relogin"
    except OAuthError as err:
        db.rollback()
        if err.status != 401:
            log.warning("could not validate the token of %s: %s", row.login, err)
            return "unreachable"
        return _after_invalid(db, row, current, now)
    db(current).update(valid=True, login=info.login or row.login, scopes=list(info.scopes),
                       expires_at=now + datetime.timedelta(seconds=info.expires_in), last_validated_at=now)
    db.commit()
    return "valid"


def _after_invalid(db, row, current, now: datetime.datetime) -> str:
    db(current).update(valid=False, last_validated_at=now, updated_at=now)
    db.commit()
    log.warning("Twitch says the token of %s is no longer valid; refreshing it", row.login)
    try:
        refresh_account(row.account, row.version)
    except NeedsReauth:
        return "needs_relogin"
    except NotReady:
        return "invalid"
    return "refreshed"


def validate_tokens(stop: threading.Event) -> None:
    """The singleton service: a validation round now, then one every interval."""
    while not stop.is_set():
        outcome = validate_stored_tokens()
        if outcome:
            log.info("validated the stored Twitch tokens: %s",
                     ", ".join(f"{count} {result}" for result, count in sorted(outcome.items())))
        stop.wait(get_settings().token_validate_interval_seconds)
