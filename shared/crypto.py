"""Encryption of secrets at rest, hashing of service secrets, signed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from functools import lru_cache

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.settings import get_settings

__all__ = ["InvalidToken", "encrypt", "decrypt", "hash_secret", "verify_secret", "sign_token",
           "verify_token", "TokenError", "new_token", "digest"]


class TokenError(ValueError):
    """A signed token is invalid, expired or meant for another purpose."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"waddlebot-at-rest",
               info=b"fernet").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plaintext: str) -> str:
    return _fernet(get_settings().waddlebot_secret_key).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Raises InvalidToken when the value was not encrypted with this WADDLEBOT_SECRET_KEY."""
    return _fernet(get_settings().waddlebot_secret_key).decrypt(ciphertext.encode()).decode()


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token (nbytes of entropy)."""
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    """SHA-256 hex digest: how one-time tokens (high entropy) are looked up without storing them."""
    return hashlib.sha256(value.encode()).hexdigest()


def hash_secret(secret: str) -> str:
    """Salted scrypt hash of a low-volume secret (service-account secrets)."""
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${derived.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_hex, hash_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    derived = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt_hex), n=2**14, r=8, p=1)
    return hmac.compare_digest(derived.hex(), hash_hex)


def sign_token(purpose: str, ttl_seconds: int, **claims) -> str:
    """A JWT signed with AUTH_SECRET, valid for one purpose and ttl_seconds."""
    now = int(time.time())
    payload = {**claims, "pur": purpose, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(payload, get_settings().auth_secret, algorithm="HS256")


def verify_token(token: str, purpose: str) -> dict:
    try:
        payload = jwt.decode(token, get_settings().auth_secret, algorithms=["HS256"],
                             options={"require": ["exp", "iat", "pur"]})  # every token expires
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("token invalid") from None
    if payload.get("pur") != purpose:
        raise TokenError("token invalid")
    return payload
