"""EventSub wire protocol (framework-free): webhook headers and message types, the signature,
the replay window, the wire shapes, the standard subscription set, and signed test messages
shaped exactly as Twitch sends them (the event simulator and the tests use those)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any, TypedDict

# --- headers and message types ------------------------------------------------------------------
MESSAGE_ID = "Twitch-Eventsub-Message-Id"
MESSAGE_RETRY = "Twitch-Eventsub-Message-Retry"
MESSAGE_TYPE = "Twitch-Eventsub-Message-Type"
MESSAGE_SIGNATURE = "Twitch-Eventsub-Message-Signature"
MESSAGE_TIMESTAMP = "Twitch-Eventsub-Message-Timestamp"
SUBSCRIPTION_TYPE = "Twitch-Eventsub-Subscription-Type"
SUBSCRIPTION_VERSION = "Twitch-Eventsub-Subscription-Version"

NOTIFICATION = "notification"
VERIFICATION = "webhook_callback_verification"
REVOCATION = "revocation"
MESSAGE_TYPES = (NOTIFICATION, VERIFICATION, REVOCATION)
#: Twitch's reasons for a revocation (the subscription's `status`)
REVOCATION_REASONS = ("user_removed", "authorization_revoked", "notification_failures_exceeded", "version_removed")

_FRACTION = re.compile(r"\.(\d+)")


# --- wire shapes ------------------------------------------------------------------------------
class Transport(TypedDict, total=False):
    method: str  # "webhook" | "websocket" | "conduit"
    callback: str
    secret: str  # only when creating a webhook subscription; Twitch never returns it
    session_id: str


class Subscription(TypedDict, total=False):
    id: str
    status: str
    type: str
    version: str
    cost: int
    condition: dict[str, str]
    transport: Transport
    created_at: str


class NotificationBody(TypedDict, total=False):
    subscription: Subscription
    event: dict[str, Any]
    events: list[dict[str, Any]]  # batched payloads


class VerificationBody(TypedDict):
    challenge: str
    subscription: Subscription


class RevocationBody(TypedDict):
    subscription: Subscription


# --- signature and replay window -------------------------------------------------------------
def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The Twitch-Eventsub-Message-Signature value: sha256=HMAC(secret, id + timestamp + body)."""
    digest = hmac.new(secret.encode(), message_id.encode() + timestamp.encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(secret: str, message_id: str, timestamp: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` is Twitch's signature of this raw body (constant-time comparison)."""
    if not (secret and message_id and timestamp and signature):
        return False
    return hmac.compare_digest(sign(secret, message_id, timestamp, body).encode(), signature.encode())


def parse_timestamp(value: str | None) -> datetime.datetime | None:
    """Twitch's RFC 3339 timestamp (nanoseconds allowed) as an aware UTC datetime; None if unparseable."""
    if not value:
        return None
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), value.strip(), count=1)
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # RFC 3339 requires the offset; a local time cannot be checked against the window
    try:
        return parsed.astimezone(datetime.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00: past the last representable time
        return None


def is_fresh(timestamp: datetime.datetime, max_age_seconds: float, now: datetime.datetime | None = None) -> bool:
    """Within the replay window: not older than max_age_seconds, nor as far in the future."""
    now = now or datetime.datetime.now(datetime.UTC)
    return abs((now - timestamp).total_seconds()) <= max_age_seconds


def format_timestamp(moment: datetime.datetime | None = None) -> str:
    """A timestamp as Twitch writes it: UTC, nanosecond precision, Z."""
    moment = (moment or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


# --- the standard subscription set -----------------------------------------------------------
#: (type, version) of every subscription a followed channel gets
STANDARD_TYPES: tuple[tuple[str, str], ...] = (
    ("channel.follow", "2"), ("channel.subscribe", "1"), ("channel.subscription.message", "1"),
    ("channel.subscription.gift", "1"), ("channel.cheer", "1"), ("channel.raid", "1"), ("channel.ban", "1"),
    ("stream.online", "1"), ("stream.offline", "1"),
)
#: the scope the broadcaster's token needs for a type (the others need none)
REQUIRED_SCOPES: dict[str, str] = {
    "channel.follow": "moderator:read:followers",
    "channel.subscribe": "channel:read:subscriptions",
    "channel.subscription.message": "channel:read:subscriptions",
    "channel.subscription.gift": "channel:read:subscriptions",
    "channel.cheer": "bits:read",
    "channel.ban": "channel:moderate",
}


def standard_condition(event_type: str, broadcaster_id: str) -> dict[str, str]:
    """The condition of a standard subscription for this broadcaster."""
    if event_type == "channel.follow":
        return {"broadcaster_user_id": broadcaster_id, "moderator_user_id": broadcaster_id}
    if event_type == "channel.raid":
        return {"to_broadcaster_user_id": broadcaster_id}
    return {"broadcaster_user_id": broadcaster_id}


# --- test messages (the event simulator) -----------------------------------------------------
def _user(prefix: str, user_id: str, login: str) -> dict[str, str]:
    return {f"{prefix}id": user_id, f"{prefix}login": login, f"{prefix}name": login.capitalize()}


def _nobody(prefix: str) -> dict[str, None]:
    return {f"{prefix}id": None, f"{prefix}login": None, f"{prefix}name": None}


def sample_event(event_type: str, broadcaster_id: str = "1337", broadcaster_login: str = "cooler_user",
                 rng: random.Random | None = None, anonymous: bool = False) -> dict[str, Any]:
    """A realistic event of `event_type` as Twitch sends it, with a random viewer."""
    rng = rng or random.Random()
    viewer = _user("user_", str(rng.randrange(10_000_000, 99_999_999)), f"viewer{rng.randrange(100_000)}")
    actor = _nobody("user_") if anonymous else viewer
    broadcaster = _user("broadcaster_user_", broadcaster_id, broadcaster_login)
    now = format_timestamp()
    tier = rng.choice(("1000", "2000", "3000"))
    events: dict[str, Any] = {
        "channel.follow": lambda: {**viewer, **broadcaster, "followed_at": now},
        "channel.subscribe": lambda: {**viewer, **broadcaster, "tier": tier, "is_gift": False},
        "channel.subscription.message": lambda: {
            **viewer, **broadcaster, "tier": tier,
            "message": {"text": "Love the stream! FevziGG", "emotes": [{"begin": 23, "end": 30, "id": "302976485"}]},
            "cumulative_months": 15, "streak_months": 1, "duration_months": 6},
        "channel.subscription.gift": lambda: {
            **actor, **broadcaster, "total": rng.randrange(1, 11), "tier": tier,
            "cumulative_total": None if anonymous else rng.randrange(10, 300), "is_anonymous": anonymous},
        "channel.cheer": lambda: {
            "is_anonymous": anonymous, **actor, **broadcaster, "message": "Cheer100 pogchamp",
            "bits": rng.choice((1, 100, 500, 1000))},
        "channel.raid": lambda: {
            **_user("from_broadcaster_user_", viewer["user_id"], viewer["user_login"]),
            **_user("to_broadcaster_user_", broadcaster_id, broadcaster_login), "viewers": rng.randrange(1, 500)},
        "channel.ban": lambda: {
            **viewer, **broadcaster, **_user("moderator_user_", "9001", "mod_user"), "reason": "Offensive language",
            "banned_at": now, "ends_at": None, "is_permanent": True},
        "stream.online": lambda: {"id": str(rng.randrange(10**10, 10**11)), **broadcaster, "type": "live",
                                  "started_at": now},
        "stream.offline": lambda: dict(broadcaster),
    }
    if event_type not in events:
        return dict(broadcaster)  # any other type: at least the channel, like most Twitch events
    return events[event_type]()


def subscription_object(event_type: str, broadcaster_id: str = "1337", callback: str = "https://example.com/webhook",
                        status: str = "enabled", version: str | None = None,
                        subscription_id: str | None = None) -> Subscription:
    """The `subscription` object Twitch puts in every webhook message."""
    versions = dict(STANDARD_TYPES)
    return {
        "id": subscription_id or str(uuid.uuid4()), "status": status, "type": event_type,
        "version": version or versions.get(event_type, "1"), "cost": 0,
        "condition": standard_condition(event_type, broadcaster_id),
        "transport": {"method": "webhook", "callback": callback}, "created_at": format_timestamp(),
    }


def signed_message(secret: str, message_type: str, payload: Mapping, message_id: str | None = None,
                   timestamp: str | None = None) -> tuple[dict[str, str], bytes]:
    """(headers, raw body) of one webhook message, signed as Twitch signs it."""
    body = json.dumps(payload).encode()
    message_id = message_id or str(uuid.uuid4())
    timestamp = timestamp or format_timestamp()
    subscription = payload["subscription"]
    headers = {
        MESSAGE_ID: message_id, MESSAGE_RETRY: "0", MESSAGE_TYPE: message_type,
        MESSAGE_SIGNATURE: sign(secret, message_id, timestamp, body), MESSAGE_TIMESTAMP: timestamp,
        SUBSCRIPTION_TYPE: subscription.get("type", ""), SUBSCRIPTION_VERSION: subscription.get("version", ""),
        "Content-Type": "application/json",
    }
    return headers, body


def notification(secret: str, event_type: str, *, callback: str = "https://example.com/webhook",
                 broadcaster_id: str = "1337", message_id: str | None = None, timestamp: str | None = None,
                 subscription_id: str | None = None, event: Mapping | None = None,
                 rng: random.Random | None = None) -> tuple[dict[str, str], bytes]:
    """A signed notification of `event_type` (a sample event unless `event` is given)."""
    subscription = subscription_object(event_type, broadcaster_id, callback, subscription_id=subscription_id)
    payload = {"subscription": subscription,
               "event": dict(event) if event is not None else sample_event(event_type, broadcaster_id, rng=rng)}
    return signed_message(secret, NOTIFICATION, payload, message_id, timestamp)


def verification(secret: str, event_type: str = "channel.follow", *, callback: str = "https://example.com/webhook",
                 challenge: str | None = None, subscription_id: str | None = None) -> tuple[dict[str, str], bytes]:
    """A signed webhook_callback_verification message carrying a random challenge."""
    subscription = subscription_object(event_type, callback=callback, status="webhook_callback_verification_pending",
                                       subscription_id=subscription_id)
    payload = {"challenge": challenge or uuid.uuid4().hex, "subscription": subscription}
    return signed_message(secret, VERIFICATION, payload)


def revocation(secret: str, event_type: str = "channel.follow", *, reason: str = "authorization_revoked",
               callback: str = "https://example.com/webhook",
               subscription_id: str | None = None) -> tuple[dict[str, str], bytes]:
    """A signed revocation message; `reason` is one of REVOCATION_REASONS."""
    subscription = subscription_object(event_type, callback=callback, status=reason, subscription_id=subscription_id)
    return signed_message(secret, REVOCATION, {"subscription": subscription})
