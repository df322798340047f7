"""Hub webhooks: where a service may ask events to be POSTed, and their signed delivery through the
outbox (kind "hub_webhook").

A delivery is signed when it is sent, like Twitch signs EventSub webhooks: the header
`Waddlebot-Hub-Message-Signature` is `sha256=` + hex HMAC-SHA256, keyed with the interest's
secret, over the message id + the timestamp header value + the raw body. Receivers recompute it
and compare in constant time (README, "Event hub").

A receiver that cannot be reached is paused for a while: its other deliveries fail at once (and
are retried later by the outbox) instead of each waiting for a timeout while others queue."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import requests

from modules.twitch.eventsub import format_timestamp, sign
from modules.waddlebot_api import ApiError
from shared.crypto import InvalidToken, decrypt
from shared.db import get_db
from shared.outbox import deliverer
from shared.settings import Settings

KIND = "hub_webhook"
MESSAGE_ID = "Waddlebot-Hub-Message-Id"
MESSAGE_TIMESTAMP = "Waddlebot-Hub-Message-Timestamp"
MESSAGE_SIGNATURE = "Waddlebot-Hub-Message-Signature"
MESSAGE_RETRY = "Waddlebot-Hub-Message-Retry"
INTEREST_ID = "Waddlebot-Hub-Interest-Id"
UNREACHABLE_PAUSE_SECONDS = 30.0
CONNECT_TIMEOUT = 3.0


class UnsafeUrl(ValueError):
    """The webhook URL is not acceptable; the message says why."""


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def check_webhook_url(url: str, allow_private: bool) -> str:
    """The URL when events may be POSTed to it: http(s), and unless `allow_private`, a host that
    resolves only to public addresses (never loopback, private, link-local or reserved)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise UnsafeUrl("must not contain a user name or password")
    if len(url) > 1024:
        raise UnsafeUrl("must be at most 1024 characters")
    if allow_private:
        return url
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as err:
        raise UnsafeUrl(f"the host {parts.hostname!r} does not resolve ({err})") from None
    for info in infos:
        address = _address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise UnsafeUrl(f"{parts.hostname} resolves to {address}, a private, loopback or reserved address "
                            "(set HUB_ALLOW_PRIVATE_WEBHOOKS=true to allow local receivers)")
    return url


def signed_headers(secret: str, message_id: str, body: bytes, interest_id: str, attempt: int) -> dict[str, str]:
    timestamp = format_timestamp()
    return {"Content-Type": "application/json", "User-Agent": "WaddleBot-Hub", MESSAGE_ID: message_id,
            MESSAGE_TIMESTAMP: timestamp, MESSAGE_SIGNATURE: sign(secret, message_id, timestamp, body),
            MESSAGE_RETRY: str(attempt), INTEREST_ID: interest_id}


class _Pauses:
    """Receivers (scheme://host:port) that recently could not be reached, until when."""

    def __init__(self):
        self.lock = threading.Lock()
        self.until: dict[str, float] = {}

    def remaining(self, origin: str) -> float:
        with self.lock:
            return max(0.0, self.until.get(origin, 0.0) - time.monotonic())

    def pause(self, origin: str, seconds: float) -> None:
        with self.lock:
            self.until[origin] = time.monotonic() + seconds

    def clear(self) -> None:
        with self.lock:
            self.until.clear()


pauses = _Pauses()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


def _interest(interest_id: str) -> tuple[str, str]:
    """(webhook URL, secret) of a live interest; a dead delivery when it was deleted meanwhile."""
    db = get_db()
    try:
        row = db(db.hub_interest.interest_id == interest_id).select(
            db.hub_interest.webhook_url, db.hub_interest.webhook_secret, limitby=(0, 1)).first()
    finally:
        db.rollback()  # a pool thread: do not keep a read transaction open
    if row is None or not row.webhook_url:
        raise ApiError(f"interest {interest_id} was deleted: not delivered", retryable=False)
    try:
        return row.webhook_url, decrypt(row.webhook_secret)
    except InvalidToken:
        raise ApiError(f"the secret of interest {interest_id} cannot be decrypted (WADDLEBOT_SECRET_KEY changed?)",
                       retryable=False) from None


@deliverer(KIND)
def deliver_hub_webhook(row, session: requests.Session, settings: Settings) -> None:
    """POST one event to a service's webhook, signed now; raises ApiError when it was not accepted."""
    interest_id, message = row.body["interest_id"], row.body["message"]
    url, secret = _interest(interest_id)
    try:
        check_webhook_url(url, settings.hub_allow_private_webhooks)
    except UnsafeUrl as err:
        raise ApiError(f"webhook_url {err}", retryable=False) from None
    origin = _origin(url)
    paused = pauses.remaining(origin)
    if paused:
        raise ApiError(f"{origin} was unreachable; deliveries paused for {paused:.0f} s more", retryable=True)
    body = json.dumps(message, separators=(",", ":")).encode()
    headers = signed_headers(secret, message["id"], body, interest_id, row.attempts + 1)
    timeout = (min(CONNECT_TIMEOUT, settings.api_timeout_seconds), settings.api_timeout_seconds)
    try:
        response = session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as err:
        pauses.pause(origin, UNREACHABLE_PAUSE_SECONDS)
        raise ApiError(f"{origin} unreachable: {err.__class__.__name__}", retryable=True) from None
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise ApiError(f"{origin} answered a redirect ({status}): redirects are not followed", retryable=False,
                       status=status)
    retryable = status in (408, 425, 429) or status >= 500
    raise ApiError(f"{origin} answered {status}: {response.text[:200]}", retryable=retryable, status=status)
