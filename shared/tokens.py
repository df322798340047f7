"""The token service the apps use: user tokens (refreshed ahead of expiry with one refresh in
flight per account, validated, revoked), app tokens (client credentials) and bot accounts.

Tokens live Fernet-encrypted in `twitch_token`, one row per account: "user:<twitch id>" or
"bot:<name>". Storing a login uses the caller's transaction; a refresh commits on a connection
of its own (a refresher thread), because Twitch may invalidate the old refresh token the moment
it hands out a new one: the rotated token must be saved whatever the caller's transaction does.
So ask for a token before writing in a transaction, not in the middle of one: the refresher
would wait for the caller's write lock (SQLite) or for its lock on the same row (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import portalocker
import redis

from modules.twitch import oauth
from modules.twitch.oauth import OAuthError, TokenGrant, TokenInfo, client_credentials
from shared import redis_client
from shared.crypto import InvalidToken, decrypt, encrypt
from shared.db import get_db, is_postgres, utcnow
from shared.registry import NeedsReauth, NotConfigured, NotReady, provided_page
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
APP_TOKEN_MARGIN = 300  # renew an app token this many seconds before it expires
REFRESH_LOCK_SECONDS = 60  # longest wait for another process's refresh; a dead holder's lock expires
BOT_SCOPES = ("chat:read", "chat:edit", "user:read:chat", "user:write:chat", "user:bot")
BOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class MissingScope(ValueError):
    """The stored token was not granted a scope the caller needs."""

    def __init__(self, scope: str, login_url: str):
        super().__init__(f"the token lacks the scope {scope!r}: grant it by logging in at {login_url}")
        self.scope = scope
        self.login_url = login_url


class UnknownAccount(LookupError):
    """No token is stored for this user or bot."""


@dataclass(frozen=True)
class BotCredentials:
    name: str
    login: str
    user_id: str | None
    token: str = field(repr=False)


# --- app tokens ------------------------------------------------------------------------------
class _AppTokenCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.token: str | None = None
        self.expires_at = 0.0
        self.client_id: str | None = None
        self.renewed_at = float("-inf")  # time.monotonic() of the last renewal after a 401


_app = _AppTokenCache()
#: Seconds between two renewals after a 401: anyone who can make Helix answer 401 (a call that
#: needs a user token, say) must not make us fetch app tokens in a loop.
APP_TOKEN_RENEW_FLOOR = 60.0


def _app_credentials(settings: Settings) -> tuple[str, str]:
    if not (settings.twitch_app_id and settings.twitch_app_secret):
        raise NotConfigured("set TWITCH_APP_ID and TWITCH_APP_SECRET")
    return settings.twitch_app_id, settings.twitch_app_secret


def get_app_token() -> str:
    """A valid app access token; renewed before expiry (one grant at a time)."""
    return _app_token(rejected=None)


def renew_app_token(rejected: str) -> str:
    """After Helix answered 401 to `rejected`: a new app token, unless another caller renewed it
    already (single flight: the new one is returned) or the last such renewal is less than
    APP_TOKEN_RENEW_FLOOR seconds old (the same token is returned: the 401 was not about it)."""
    return _app_token(rejected=rejected)


def _app_token(rejected: str | None) -> str:
    settings = get_settings()
    client_id, client_secret = _app_credentials(settings)
    with _app.lock:
        fresh = _app.token and _app.client_id == client_id and time.time() < _app.expires_at - APP_TOKEN_MARGIN
        renew = rejected is not None and rejected == _app.token and (
            time.monotonic() - _app.renewed_at >= APP_TOKEN_RENEW_FLOOR)
        if renew or not fresh:
            granted = client_credentials(settings.twitch_id_url, client_id, client_secret, settings.helix_timeout_s)
            _app.token, _app.client_id = granted.access_token, client_id
            _app.expires_at = time.time() + granted.expires_in
            if renew:
                _app.renewed_at = time.monotonic()
        return _app.token


def forget_app_token() -> None:
    """Drop the cached app token (settings changed)."""
    with _app.lock:
        _app.token, _app.expires_at, _app.renewed_at = None, 0.0, float("-inf")


# --- stored accounts -------------------------------------------------------------------------
def user_account(user_id: str) -> str:
    return f"user:{user_id}"


def bot_account(name: str) -> str:
    return f"bot:{name.lower()}"


def check_bot_name(name: str) -> str:
    """The normalized bot name; ValueError when it is not one."""
    if not BOT_NAME.match(name.lower()):
        raise ValueError(f"bot name {name!r}: use 1–32 lower-case letters, digits, '-' or '_'")
    return name.lower()


def login_path(scopes: Iterable[str] = ()) -> str:
    """The page (path) that asks Twitch for these scopes: the module that provides "twitch_login"
    (the admin home when none does)."""
    scopes = sorted(set(scopes))
    return (provided_page("twitch_login") or "/") + (f"?{urlencode({'scopes': ' '.join(scopes)})}" if scopes else "")


def login_url(scopes: Iterable[str] = ()) -> str:
    return get_settings().public_url + login_path(scopes)


def relogin_hint(row) -> str:
    """What a person does to give the account a working token again."""
    if row.bot_name:
        return f"run `waddlebot bots add {row.bot_name}`"
    return f"log in again at {login_url(row.scopes or ())}"


def reveal(row, ciphertext: str) -> str:
    try:
        return decrypt(ciphertext)
    except InvalidToken:
        raise NeedsReauth(f"the stored token of {row.login} cannot be decrypted (WADDLEBOT_SECRET_KEY "
                          f"changed?): {relogin_hint(row)}") from None


def _load(db, account: str):
    row = db(db.twitch_token.account == account).select(limitby=(0, 1)).first()
    if row is None:
        raise UnknownAccount(f"no Twitch token stored for {account}")
    return row


def _usable(row) -> bool:
    margin = datetime.timedelta(seconds=get_settings().token_refresh_margin_seconds)
    return row.valid and row.expires_at - utcnow() > margin


def _write_grant(db, account: str, bot_name: str | None, grant: TokenGrant, info: TokenInfo) -> None:
    now = utcnow()
    values = {"user_id": info.user_id, "login": info.login, "scopes": list(info.scopes),
              "access_token": encrypt(grant.access_token),
              "refresh_token": encrypt(grant.refresh_token) if grant.refresh_token else None,
              "expires_at": now + datetime.timedelta(seconds=info.expires_in), "valid": True,
              "needs_relogin": False, "last_validated_at": now, "updated_at": now}
    table = db.twitch_token
    if not db(table.account == account).update(version=table.version + 1, **values):
        table.insert(account=account, bot_name=bot_name, created_at=now, version=1, **values)


def store_user_token(db, grant: TokenGrant, info: TokenInfo) -> None:
    """Store (or replace) the token a person granted, in the caller's transaction."""
    _write_grant(db, user_account(info.user_id), None, grant, info)


def store_bot_token(db, name: str, grant: TokenGrant, info: TokenInfo) -> None:
    """Store (or replace) the token of bot account `name`, in the caller's transaction."""
    name = check_bot_name(name)
    _write_grant(db, bot_account(name), name, grant, info)


# --- refresh: one in flight per account ------------------------------------------------------
_flight_guard = threading.Lock()
_flight_locks: dict[str, threading.Lock] = {}
_refresher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="token-refresh")


def _flight_lock(account: str) -> threading.Lock:
    with _flight_guard:
        return _flight_locks.setdefault(account, threading.Lock())


def refresh_lock_file(account: str) -> Path:
    """The file whose lock a refresher holds on SQLite (processes of one machine)."""
    folder = get_settings().var_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"token-{account.replace(':', '-')}.lock"


@contextlib.contextmanager
def _process_lock(db, account: str) -> Iterator[None]:
    """Excludes other processes: a Redis lock when REDIS_URL is set; else on PostgreSQL the
    refresher's SELECT … FOR UPDATE on the row; else (SQLite, one machine) a file lock."""
    client = redis_client.get_redis()
    if client is not None:
        lock = client.lock(redis_client.key("lock", "token", account), timeout=REFRESH_LOCK_SECONDS,
                           blocking_timeout=REFRESH_LOCK_SECONDS, thread_local=False)
    elif is_postgres(db):
        yield
        return
    else:
        lock = portalocker.Lock(str(refresh_lock_file(account)), timeout=REFRESH_LOCK_SECONDS)
    try:
        acquired = lock.acquire()
    except portalocker.exceptions.LockException:
        acquired = False
    if not acquired:
        raise NotReady(f"another process has been refreshing {account} for {REFRESH_LOCK_SECONDS} s")
    try:
        yield
    finally:
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()


def refresh_account(account: str, seen_version: int) -> str:
    """The account's access token after a refresh, unless another refresh replaced the token
    read at `seen_version` meanwhile: then that newer token, without calling Twitch again."""
    with _flight_lock(account):
        return _refresher.submit(_refresh_committed, account, seen_version).result()


def _refresh_committed(account: str, seen_version: int) -> str:
    db = get_db()
    with _process_lock(db, account):
        try:
            token = _refresh_row(db, account, seen_version)
        except BaseException:
            db.rollback()
            raise
        db.commit()
    return token


def _refresh_row(db, account: str, seen_version: int) -> str:
    row = db(db.twitch_token.account == account).select(limitby=(0, 1), for_update=is_postgres(db)).first()
    if row is None:
        raise UnknownAccount(f"no Twitch token stored for {account}")
    if row.version != seen_version:
        return reveal(row, row.access_token)
    if row.needs_relogin or not row.refresh_token:
        raise NeedsReauth(f"{row.login} needs a new login: {relogin_hint(row)}")
    settings = get_settings()
    client_id, client_secret = _app_credentials(settings)
    try:
        grant = oauth.refresh(settings.twitch_id_url, client_id, client_secret, reveal(row, row.refresh_token),
                              settings.helix_timeout_s)
    except OAuthError as err:
        if not err.rejected:
            raise NotReady(f"could not refresh the token of {row.login}: {err}") from None
        mark_needs_relogin(db, row)
        db.commit()
        log.warning("Twitch rejected the refresh token of %s (%s): needs a new login", row.login, err.reason)
        raise NeedsReauth(f"Twitch rejected the refresh token of {row.login}: {relogin_hint(row)}") from None
    now = utcnow()
    db(db.twitch_token.id == row.id).update(
        access_token=encrypt(grant.access_token),
        refresh_token=encrypt(grant.refresh_token) if grant.refresh_token else row.refresh_token,
        scopes=list(grant.scopes) or row.scopes, expires_at=now + datetime.timedelta(seconds=grant.expires_in),
        version=row.version + 1, valid=True, refreshed_at=now, updated_at=now)
    log.info("refreshed the Twitch token of %s", row.login)
    return grant.access_token


def mark_needs_relogin(db, row) -> None:
    db(db.twitch_token.id == row.id).update(valid=False, needs_relogin=True, updated_at=utcnow())


# --- user tokens -----------------------------------------------------------------------------
def get_user_token(user_id: str, scopes: Iterable[str] = ()) -> str:
    """A valid access token of the user with these scopes, refreshed when less than
    TOKEN_REFRESH_MARGIN_SECONDS are left. Raises MissingScope, UnknownAccount, NeedsReauth
    (a person must log in again) or NotReady (Twitch unreachable: retry later)."""
    row = _load(get_db(), user_account(user_id))
    granted = set(row.scopes or ())
    missing = [scope for scope in scopes if scope not in granted]
    if missing:
        raise MissingScope(missing[0], login_url(granted | set(scopes)))
    if row.needs_relogin:
        raise NeedsReauth(f"{row.login} needs a new login: {relogin_hint(row)}")
    if _usable(row):
        return reveal(row, row.access_token)
    return refresh_account(row.account, row.version)


def report_unauthorized(user_id: str, rejected_token: str | None = None) -> str:
    """The caller got a 401 with the user's token: refresh it (once, however many callers
    report at the same time) and return the new token. Give `rejected_token` to skip the
    refresh when the stored token is already another one."""
    row = _load(get_db(), user_account(user_id))
    if rejected_token is not None and not row.needs_relogin and row.valid:
        stored = reveal(row, row.access_token)
        if stored != rejected_token:
            return stored
    return refresh_account(row.account, row.version)


def revoke_user(db, user_id: str) -> None:
    """Revoke the user's token at Twitch, then delete it (in the caller's transaction)."""
    _revoke_and_delete(db, _load(db, user_account(user_id)))


def _revoke_and_delete(db, row) -> None:
    settings = get_settings()
    client_id, _ = _app_credentials(settings)
    try:
        oauth.revoke(settings.twitch_id_url, client_id, reveal(row, row.access_token), settings.helix_timeout_s)
    except NeedsReauth:
        pass  # an undecryptable token cannot be used by anyone: deleting it is enough
    except OAuthError as err:
        if not err.rejected:
            raise NotReady(f"could not revoke the token of {row.login}: {err}") from None
        # Twitch no longer knows the token (already revoked or expired): deleting it is enough
    db(db.twitch_token.id == row.id).delete()


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def describe(row) -> dict:
    """The public view of a stored account: never a token."""
    return {"user_id": row.user_id, "login": row.login, "bot": row.bot_name, "scopes": list(row.scopes or ()),
            "authenticated": bool(row.valid and not row.needs_relogin), "valid": bool(row.valid),
            "needs_relogin": bool(row.needs_relogin), "expires_at": _iso(row.expires_at),
            "last_validated_at": _iso(row.last_validated_at), "relogin": relogin_hint(row)}


def user_status(user_id: str) -> dict:
    db = get_db()
    return describe(_load(db, user_account(user_id)))


def list_users() -> list[dict]:
    db = get_db()
    rows = db(db.twitch_token.bot_name == None).select(orderby=db.twitch_token.login)  # noqa: E711
    return [describe(row) for row in rows]


def accounts_needing_relogin() -> list[dict]:
    db = get_db()
    return [describe(row) for row in db(db.twitch_token.needs_relogin == True).select(  # noqa: E712
        orderby=db.twitch_token.id)]


# --- bot accounts ----------------------------------------------------------------------------
def _static_bot(settings: Settings) -> BotCredentials | None:
    """TWITCH_USERNAME + TWITCH_OAUTH_TOKEN: a bot account configured by hand."""
    if not (settings.twitch_username and settings.twitch_oauth_token):
        return None
    login = settings.twitch_username.lower()
    return BotCredentials(name=login, login=login, user_id=None,
                          token=settings.twitch_oauth_token.removeprefix("oauth:"))


def _bot_row(db, name: str | None):
    table = db.twitch_token
    query = (table.bot_name != None) if name is None else (table.account == bot_account(name))  # noqa: E711
    return db(query).select(orderby=table.id, limitby=(0, 1)).first()


def _no_bot(name: str | None) -> NotConfigured:
    target = name or "NAME"
    return NotConfigured(f"no bot account{' ' + name if name else ''}: run `waddlebot bots add {target}` "
                         "or set TWITCH_USERNAME and TWITCH_OAUTH_TOKEN")


def get_bot(name: str | None = None) -> BotCredentials:
    """The bot account `name` with a valid token; with None the first bot account, else the
    static bot (TWITCH_USERNAME). Raises NotConfigured, NeedsReauth or NotReady."""
    row = _bot_row(get_db(), name)
    if row is None:
        static = _static_bot(get_settings())
        if static is not None and (name is None or name.lower() == static.name):
            return static
        raise _no_bot(name)
    if row.needs_relogin:
        raise NeedsReauth(f"bot {row.bot_name} needs a new login: {relogin_hint(row)}")
    token = reveal(row, row.access_token) if _usable(row) else refresh_account(row.account, row.version)
    return BotCredentials(name=row.bot_name, login=row.login, user_id=row.user_id, token=token)


def refresh_bot(name: str) -> BotCredentials:
    """Refresh the bot's token now (after Twitch refused it). The static bot cannot be refreshed."""
    row = _bot_row(get_db(), name)
    if row is None:
        static = _static_bot(get_settings())
        if static is not None and name.lower() == static.name:
            raise NeedsReauth("TWITCH_OAUTH_TOKEN was refused and cannot be refreshed: set a new one or run "
                              f"`waddlebot bots add {static.name}`")
        raise _no_bot(name)
    token = refresh_account(row.account, row.version)
    return BotCredentials(name=row.bot_name, login=row.login, user_id=row.user_id, token=token)


def list_bots() -> list[dict]:
    """Every bot account (the static one included); never a token."""
    db = get_db()
    bots = [{**describe(row), "name": row.bot_name, "static": False}
            for row in db(db.twitch_token.bot_name != None).select(orderby=db.twitch_token.bot_name)]  # noqa: E711
    static = _static_bot(get_settings())
    if static is not None and static.name not in {bot["name"] for bot in bots}:
        bots.append({"name": static.name, "login": static.login, "user_id": None, "scopes": [], "valid": True,
                     "needs_relogin": False, "static": True})
    return bots


def remove_bot(db, name: str) -> None:
    """Revoke the bot's token at Twitch, then delete it (in the caller's transaction)."""
    row = _bot_row(db, name)
    if row is None:
        raise UnknownAccount(f"no bot account {name}")
    _revoke_and_delete(db, row)
