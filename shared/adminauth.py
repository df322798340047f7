"""One admin authentication for every app: password login, signed session cookie, one-time
magic links, and the X-Admin-Key header for scripts."""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from shared.crypto import TokenError, digest, new_token, sign_token, verify_token
from shared.db import get_db, utcnow
from shared.ratelimit import allow
from shared.settings import Settings, get_settings

COOKIE = "waddlebot_admin"
PURPOSE = "admin"


class LoginThrottled(Exception):
    """Too many password attempts from one client."""


def check_password(password: str, client: str, settings: Settings | None = None) -> bool:
    """Constant-time compare with ADMIN_PASSWORD; raises LoginThrottled past the attempt limit."""
    settings = settings or get_settings()
    if not allow(f"login:{client}", settings.login_max_attempts, settings.login_window_seconds):
        raise LoginThrottled(f"too many attempts; wait up to {settings.login_window_seconds} seconds")
    return hmac.compare_digest(password.encode(), settings.admin_password.encode())


def check_api_key(value: str | None, settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return bool(settings.admin_api_key and value) and hmac.compare_digest(
        value.encode(), settings.admin_api_key.encode())


class ServiceCaller(Protocol):
    """What a module's service account tells other modules about itself."""

    name: str
    helix_methods: frozenset[str]  # HTTP methods it may send through helix_proxy with the app token


#: authenticate(client_id, client_secret) → ServiceCaller | None of the module that keeps service
#: accounts (twitch_webhooks' hub): modules never import each other, they ask the core
_service_authenticators: list[Callable[[str | None, str | None], ServiceCaller | None]] = []


def register_service_authenticator(authenticate: Callable[[str | None, str | None], ServiceCaller | None]) -> None:
    if authenticate not in _service_authenticators:
        _service_authenticators.append(authenticate)


def authenticate_service(client_id: str | None, client_secret: str | None) -> ServiceCaller | None:
    """The service account these credentials belong to (in any module that keeps some), or None."""
    for authenticate in _service_authenticators:
        account = authenticate(client_id, client_secret)
        if account is not None:
            return account
    return None


def session_token(settings: Settings | None = None) -> str:
    """A signed admin session; its id (jti) is what log-out revokes."""
    settings = settings or get_settings()
    return sign_token(PURPOSE, settings.session_ttl_hours * 3600, sub="admin", jti=new_token(16))


def _session_claims(token: str | None) -> dict | None:
    if not token:
        return None
    try:
        claims = verify_token(token, PURPOSE)
    except TokenError:
        return None
    return claims if isinstance(claims.get("jti"), str) and len(claims["jti"]) <= 64 else None


def is_valid_session(token: str | None, db=None) -> bool:
    """A signed, unexpired admin session that was not logged out (one indexed lookup, only for a
    cookie whose signature holds)."""
    claims = _session_claims(token)
    if claims is None:
        return False
    db = db or get_db()
    return db(db.admin_session_revoked.jti == claims["jti"]).isempty()


def end_session(db, token: str | None) -> None:
    """Log-out: the session stops working everywhere (copies of the cookie included)."""
    claims = _session_claims(token)
    if claims is None:
        return
    table, now = db.admin_session_revoked, utcnow()
    db(table.expires_at < now).delete()  # an expired session is refused anyway
    if db(table.jti == claims["jti"]).isempty():
        table.insert(jti=claims["jti"], expires_at=datetime.datetime.fromtimestamp(claims["exp"], datetime.UTC)
                     .replace(tzinfo=None))


def cookie_options(secure: bool, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/",
            "max_age": settings.session_ttl_hours * 3600}


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login: browsers read a backslash as a slash
    (`/\\evil.example` is another site) and control characters split headers, so neither passes."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if not target.isprintable():
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:
        return "/"
    return "/" if parts.scheme or parts.netloc else target


def create_magic_link(db, settings: Settings | None = None) -> str:
    """A one-time login URL; its token expires after MAGIC_LINK_TTL_MINUTES."""
    settings = settings or get_settings()
    token, now = new_token(), utcnow()
    db.magic_link.insert(token_hash=digest(token), created_at=now,
                         expires_at=now + datetime.timedelta(minutes=settings.magic_link_ttl_minutes))
    return f"{settings.public_url}/auth/magic/{token}"


def consume_magic_link(db, token: str) -> str | None:
    """Use a magic link once. None when it worked, else why it did not."""
    query = db.magic_link.token_hash == digest(token)
    row = db(query).select(limitby=(0, 1)).first()
    if row is None:
        return "This link is not valid."
    if row.used_at is not None:
        return "This link was already used. Run .venv/bin/waddlebot magic-link in the WaddleBot folder for a new one."
    if row.expires_at < utcnow():
        return "This link has expired. Run .venv/bin/waddlebot magic-link in the WaddleBot folder for a new one."
    claimed = db(query & (db.magic_link.used_at == None)).update(used_at=utcnow())  # noqa: E711
    return None if claimed else "This link was already used."
