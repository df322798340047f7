"""Service accounts of the hub: a client id and a secret per local service. The secret is shown
once (at creation or regeneration) and stored as a salted scrypt hash."""

from __future__ import annotations

import functools
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from shared.crypto import digest, hash_secret, new_token, verify_secret
from shared.db import get_db, utcnow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
#: the methods an admin may allow a service to send through helix_proxy with the app token
HELIX_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
VERIFIED_CACHE_SIZE = 1024


class AccountError(ValueError):
    """A request about service accounts cannot be done; the message says why."""


class DuplicateName(AccountError):
    """Another service account has this name."""


@dataclass(frozen=True)
class ServiceAccount:
    id: int
    client_id: str
    name: str
    secret_version: int  # grows when the secret is regenerated: connections made before are closed
    helix_methods: frozenset[str] = frozenset()  # may use helix_proxy with the app token for these


def _methods(stored: str | None) -> frozenset[str]:
    return frozenset(method for method in (stored or "").split(",") if method)


def _account(row) -> ServiceAccount:
    return ServiceAccount(row.id, row.client_id, row.name, row.secret_version, _methods(row.helix_methods))


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value else None


def describe(db, row) -> dict:
    """The public view of an account (never its secret or hash)."""
    return {"client_id": row.client_id, "name": row.name, "created_at": _iso(row.created_at),
            "secret_rotated_at": _iso(row.secret_rotated_at),
            "helix_methods": sorted(_methods(row.helix_methods), key=HELIX_METHODS.index),
            "interests": db(db.hub_interest.account_id == row.id).count()}


def check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise AccountError("name: use 1–64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit")
    return name


def check_helix_methods(methods: object) -> str:
    """The stored form ("GET,POST") of a list of HTTP methods (or one comma-separated string)."""
    if methods is None:
        return ""
    if isinstance(methods, str):
        methods = [part.strip() for part in methods.split(",") if part.strip()]
    if not isinstance(methods, list) or not all(isinstance(m, str) and m.upper() in HELIX_METHODS for m in methods):
        raise AccountError(f"helix_methods: a list of HTTP methods among {', '.join(HELIX_METHODS)}")
    return ",".join(method for method in HELIX_METHODS if method in {m.upper() for m in methods})


def set_helix_methods(db, client_id: str, methods: object) -> dict | None:
    """Which methods the account may send through helix_proxy with the app token; None: no such account."""
    stored = check_helix_methods(methods)
    row = db(db.hub_service_account.client_id == client_id).select(limitby=(0, 1)).first()
    if row is None:
        return None
    row.update_record(helix_methods=stored)
    return describe(db, row)


def create_account(db, name: str, helix_methods: object = None) -> tuple[dict, str]:
    """A new account (in the caller's transaction) and its secret, returned this once."""
    name = check_name(name)
    methods = check_helix_methods(helix_methods)
    if db(db.hub_service_account.name == name).count():
        raise DuplicateName(f"name: a service account named {name!r} exists already")
    secret, now = new_token(32), utcnow()
    db.hub_service_account.insert(client_id=f"svc_{secrets.token_hex(10)}", name=name, secret_hash=hash_secret(secret),
                                  created_at=now, secret_rotated_at=now, helix_methods=methods)
    row = db(db.hub_service_account.name == name).select(limitby=(0, 1)).first()
    return describe(db, row), secret


def regenerate(db, client_id: str) -> tuple[dict, str] | None:
    """A new secret for the account (the old one stops working); None when there is no such account."""
    row = db(db.hub_service_account.client_id == client_id).select(limitby=(0, 1)).first()
    if row is None:
        return None
    secret = new_token(32)
    row.update_record(secret_hash=hash_secret(secret), secret_version=row.secret_version + 1,
                      secret_rotated_at=utcnow())
    return describe(db, row), secret


def list_accounts(db) -> list[dict]:
    return [describe(db, row) for row in db(db.hub_service_account).select(orderby=db.hub_service_account.name)]


class _Verified:
    """Secrets already checked against a stored hash: scrypt is deliberately slow, a service that
    calls often pays it once. Keyed by the stored hash too, so a regenerated secret is checked again."""

    def __init__(self, size: int):
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[str, str], str] = OrderedDict()

    def check(self, client_id: str, secret: str, stored_hash: str) -> bool:
        key = (client_id, digest(secret))
        with self.lock:
            if self.entries.get(key) == stored_hash:
                self.entries.move_to_end(key)
                return True
        if not verify_secret(secret, stored_hash):
            return False
        with self.lock:
            self.entries[key] = stored_hash
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return True


_verified = _Verified(VERIFIED_CACHE_SIZE)


@functools.lru_cache(maxsize=1)
def _unknown_client_hash() -> str:
    """A hash no secret matches, checked for unknown client ids."""
    return hash_secret(new_token(32))


def authenticate(client_id: str | None, secret: str | None, db=None) -> ServiceAccount | None:
    """The account these credentials belong to, or None."""
    if not client_id or not secret or len(client_id) > 64 or len(secret) > 200:
        return None
    db = db or get_db()
    row = db(db.hub_service_account.client_id == client_id).select(limitby=(0, 1)).first()
    if row is None:
        verify_secret(secret, _unknown_client_hash())  # as slow as a wrong secret: unknown ids do not show
        return None
    if not _verified.check(client_id, secret, row.secret_hash):
        return None
    return _account(row)


def current_versions(db) -> dict[int, int]:
    """account id → secret version of every account (to close connections of changed ones)."""
    table = db.hub_service_account
    return {row.id: row.secret_version for row in db(table).select(table.id, table.secret_version)}
