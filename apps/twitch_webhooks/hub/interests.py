"""Interests: what a service wants to receive (one event type of one broadcaster, through one bot
account), how it wants it (its WebSocket connection or a webhook), and the Twitch subscription
key they share: interests with the same bot, type, version and condition use one subscription."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from apps.twitch_webhooks.eventsub.store import normalize_condition
from apps.twitch_webhooks.hub.webhooks import UnsafeUrl, check_webhook_url
from apps.twitch_webhooks.schema import INTEREST_TRANSPORTS
from shared import tokens
from shared.crypto import digest, encrypt, new_token
from shared.db import utcnow
from shared.settings import get_settings

#: event type → (version, condition fields). "broadcaster" fields take the interest's
#: broadcaster_user_id; "bot" fields the bot's user id (Twitch authorizes those with its token).
EVENT_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "channel.follow": ("2", {"broadcaster_user_id": "broadcaster", "moderator_user_id": "bot"}),
    "channel.subscribe": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.subscription.message": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.subscription.gift": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.cheer": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.raid": ("1", {"to_broadcaster_user_id": "broadcaster"}),
    "channel.ban": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.unban": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.update": ("2", {"broadcaster_user_id": "broadcaster"}),
    "channel.chat.message": ("1", {"broadcaster_user_id": "broadcaster", "user_id": "bot"}),
    "channel.chat.notification": ("1", {"broadcaster_user_id": "broadcaster", "user_id": "bot"}),
    "channel.channel_points_custom_reward_redemption.add": ("1", {"broadcaster_user_id": "broadcaster"}),
    "channel.shoutout.receive": ("1", {"broadcaster_user_id": "broadcaster", "moderator_user_id": "bot"}),
    "stream.online": ("1", {"broadcaster_user_id": "broadcaster"}),
    "stream.offline": ("1", {"broadcaster_user_id": "broadcaster"}),
}
FIELDS = ("bot_account_id", "event_type", "broadcaster_user_id", "transport", "webhook_url")
USER_ID = re.compile(r"^[0-9]{1,20}$")


class InvalidField(ValueError):
    """A payload field is missing or wrong: answered 422 naming `field`."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class DuplicateInterest(ValueError):
    def __init__(self, interest_id: str):
        super().__init__(f"this service already has the same interest: {interest_id}")
        self.interest_id = interest_id


@dataclass(frozen=True)
class InterestSpec:
    bot_name: str
    event_type: str
    version: str
    broadcaster_user_id: str
    condition: dict[str, str]
    transport: str
    webhook_url: str | None

    @property
    def sub_key(self) -> str:
        return subscription_key(self.bot_name, self.event_type, self.version, self.condition)


def subscription_key(bot_name: str, event_type: str, version: str, condition: Mapping) -> str:
    """What interests share a Twitch subscription by: bot, type, version and condition."""
    canonical = json.dumps([bot_name, event_type, str(version), normalize_condition(condition)], sort_keys=True)
    return digest(canonical)


def default_bot() -> str | None:
    """EVENTSUB_BOT, else the first bot account (the static one included)."""
    configured = get_settings().eventsub_bot
    if configured:
        return configured.lower()
    bots = tokens.list_bots()
    return bots[0]["name"] if bots else None


def _text(payload: Mapping, field: str) -> str | None:
    value = payload.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidField(field, "must be a string")
    return str(value).strip()


def _bot(payload: Mapping) -> dict:
    """The bot account named by `bot_account_id`: its name, or its Twitch user id (as the EventSub
    service's clients send it, a string or a number); the default bot when absent."""
    name = _text(payload, "bot_account_id") or default_bot()
    if name is None:
        raise InvalidField("bot_account_id", "no bot account exists: add one with `waddlebot bots add NAME`")
    bots = tokens.list_bots()
    bot = next((bot for bot in bots if bot["name"] == name.lower()), None) or next(
        (bot for bot in bots if bot.get("user_id") and bot["user_id"] == name), None)
    if bot is None:
        raise InvalidField("bot_account_id", f"unknown bot account {name!r}; GET /twitch_webhooks/v1/bots lists them")
    return bot


def _condition(fields: Mapping[str, str], broadcaster: str, bot: dict) -> dict[str, str]:
    condition = {}
    for name, source in fields.items():
        if source == "bot" and not bot.get("user_id"):
            raise InvalidField("bot_account_id", f"bot {bot['name']} has no known Twitch user id: authorize it "
                                                 f"with `waddlebot bots add {bot['name']}`")
        condition[name] = broadcaster if source == "broadcaster" else str(bot["user_id"])
    return condition


def _webhook_url(payload: Mapping, transport: str) -> str | None:
    url = _text(payload, "webhook_url")
    if transport == "websocket":
        if url:
            raise InvalidField("webhook_url", "only for transport \"webhook\"")
        return None
    if not url:
        raise InvalidField("webhook_url", "required when transport is \"webhook\"")
    try:
        return check_webhook_url(url, get_settings().hub_allow_private_webhooks)
    except UnsafeUrl as err:
        raise InvalidField("webhook_url", str(err)) from None


def parse_interest(payload: object) -> InterestSpec:
    """The interest a JSON payload asks for; InvalidField naming the first wrong field."""
    if not isinstance(payload, Mapping):
        raise InvalidField("body", "must be a JSON object")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise InvalidField(unknown[0], f"unknown field; expected {', '.join(FIELDS)}")
    event_type = _text(payload, "event_type")
    if event_type not in EVENT_TYPES:
        raise InvalidField("event_type", f"must be one of {', '.join(sorted(EVENT_TYPES))}")
    broadcaster = _text(payload, "broadcaster_user_id")
    if not broadcaster or not USER_ID.match(broadcaster):
        raise InvalidField("broadcaster_user_id", "must be a Twitch user id (digits)")
    transport = _text(payload, "transport") or "websocket"
    if transport not in INTEREST_TRANSPORTS:
        raise InvalidField("transport", "must be \"websocket\" or \"webhook\"")
    webhook_url = _webhook_url(payload, transport)
    bot = _bot(payload)
    version, fields = EVENT_TYPES[event_type]
    return InterestSpec(bot["name"], event_type, version, broadcaster, _condition(fields, broadcaster, bot),
                        transport, webhook_url)


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value else None


def describe(row, subscription=None) -> dict:
    """The public view of an interest (never its webhook secret), with its subscription's state."""
    return {"interest_id": row.interest_id, "bot_account_id": row.bot_name, "event_type": row.event_type,
            "version": row.version, "broadcaster_user_id": row.broadcaster_user_id, "condition": row.condition,
            "transport": row.transport, "webhook_url": row.webhook_url, "created_at": _iso(row.created_at),
            "subscription": {"status": subscription.status, "twitch_id": subscription.twitch_id,
                             "error": subscription.last_error} if subscription else {"status": "pending"}}


def create_interest(db, account_id: int, spec: InterestSpec) -> tuple[dict, str | None]:
    """Store the interest (caller's transaction); returns it and its webhook secret (shown once)."""
    table = db.hub_interest
    same = (table.account_id == account_id) & (table.sub_key == spec.sub_key) & (table.transport == spec.transport)
    duplicate = db(same & (table.webhook_url == spec.webhook_url)).select(table.interest_id, limitby=(0, 1)).first()
    if duplicate is not None:
        raise DuplicateInterest(duplicate.interest_id)
    secret = new_token(32) if spec.transport == "webhook" else None
    interest_id = f"int_{uuid.uuid4().hex}"
    table.insert(interest_id=interest_id, account_id=account_id, bot_name=spec.bot_name, event_type=spec.event_type,
                 version=spec.version, broadcaster_user_id=spec.broadcaster_user_id, condition=spec.condition,
                 sub_key=spec.sub_key, transport=spec.transport, webhook_url=spec.webhook_url,
                 webhook_secret=encrypt(secret) if secret else None, created_at=utcnow())
    row = db(table.interest_id == interest_id).select(limitby=(0, 1)).first()
    return describe(row, _subscription(db, spec.sub_key)), secret


def _subscription(db, sub_key: str):
    return db(db.hub_subscription.sub_key == sub_key).select(limitby=(0, 1)).first()


def list_interests(db, account_id: int | None = None) -> list[dict]:
    """The interests of one account (all when None), oldest first."""
    table = db.hub_interest
    query = (table.account_id == account_id) if account_id is not None else (table.id > 0)
    rows = db(query).select(orderby=table.id)
    subscriptions = {row.sub_key: row for row in db(db.hub_subscription.sub_key.belongs(
        {row.sub_key for row in rows})).select()} if rows else {}
    return [describe(row, subscriptions.get(row.sub_key)) for row in rows]


def delete_interest(db, account_id: int, interest_id: str) -> bool:
    """Delete one of the account's interests; the subscription goes with its last interest (the
    EventSub transport deletes it at Twitch). False when the account has no such interest."""
    table = db.hub_interest
    return bool(db((table.account_id == account_id) & (table.interest_id == interest_id)).delete())
