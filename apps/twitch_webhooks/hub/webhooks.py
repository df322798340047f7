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
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import requests.adapters

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


#: refused whatever Python's is_global says: IETF protocol assignments, and IPv6 forms that carry an
#: IPv4 address (IPv4-compatible ::a.b.c.d reaches it on some stacks)
REFUSED_NETWORKS = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("::/96"))
#: IPv6 prefixes whose last 32 bits are an IPv4 address a NAT64 gateway forwards to
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether events may go to this address: global, not multicast, and no IPv4 address embedded
    in an IPv6 one (mapped, NAT64, 6to4) that is not."""
    if any(address in network for network in REFUSED_NETWORKS if network.version == address.version):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in network for network in NAT64_NETWORKS):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: `url` names the address that was checked (so a second DNS answer
    cannot send it elsewhere), `host` the Host header and TLS name of the URL as the service gave it."""

    url: str
    host: str | None = None


def check_webhook_url(url: str, allow_private: bool) -> str:
    """The URL when events may be POSTed to it (see webhook_target)."""
    webhook_target(url, allow_private)
    return url


def webhook_target(url: str, allow_private: bool) -> Target:
    """Where to POST events for this URL: http(s), and unless `allow_private`, a host that resolves
    only to public addresses (never loopback, private, link-local or reserved), pinned to one of them."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:  # an unclosed [IPv6] host, a port out of range
        raise UnsafeUrl(f"is not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise UnsafeUrl("must not contain a user name or password")
    if len(url) > 1024:
        raise UnsafeUrl("must be at most 1024 characters")
    if allow_private:
        return Target(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as err:
        raise UnsafeUrl(f"the host {parts.hostname!r} does not resolve ({err})") from None
    addresses = [_address(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public(address):
            raise UnsafeUrl(f"{parts.hostname} resolves to {address}, a private, loopback or reserved address "
                            "(set HUB_ALLOW_PRIVATE_WEBHOOKS=true to allow local receivers)")
    pinned = addresses[0]
    literal = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    return Target(parts._replace(netloc=f"{literal}:{port}").geturl(), parts.netloc)


class PinnedAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects to the address in the URL and speaks TLS for the host in the Host header (the
    name the certificate must carry), so a checked address is the one delivered to."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = request.headers.get("Host")
        if host_params["scheme"] == "https" and host:
            name = urlsplit(f"//{host}").hostname
            pool_kwargs.update(server_hostname=name, assert_hostname=name)
        return host_params, pool_kwargs


_pinned = threading.local()


def _pinned_session() -> requests.Session:
    """This thread's session for hub webhooks (no proxies from the environment: it would resolve again)."""
    if not hasattr(_pinned, "session"):
        session = requests.Session()
        session.trust_env = False
        adapter = PinnedAddressAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _pinned.session = session
    return _pinned.session


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
        target = webhook_target(url, settings.hub_allow_private_webhooks)
    except UnsafeUrl as err:
        raise ApiError(f"webhook_url {err}", retryable=False) from None
    origin = _origin(url)
    paused = pauses.remaining(origin)
    if paused:
        raise ApiError(f"{origin} was unreachable; deliveries paused for {paused:.0f} s more", retryable=True)
    body = json.dumps(message, separators=(",", ":")).encode()
    headers = signed_headers(secret, message["id"], body, interest_id, row.attempts + 1)
    if target.host is not None:
        headers["Host"], session = target.host, _pinned_session()
    timeout = (min(CONNECT_TIMEOUT, settings.api_timeout_seconds), settings.api_timeout_seconds)
    try:
        response = session.post(target.url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
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
