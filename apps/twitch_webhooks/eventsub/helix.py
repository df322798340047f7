"""EventSub subscriptions at Twitch, through the Helix pipeline: list (every page), create with a
webhook transport, delete, and make sure a channel has the standard set."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch.eventsub import REQUIRED_SCOPES, STANDARD_TYPES, standard_condition
from shared import tokens
from shared.db import get_db, transaction
from shared.helix.client import HelixError, helix_paginate, helix_request
from shared.registry import NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/twitch_webhooks/webhook"
SUBSCRIPTIONS = "eventsub/subscriptions"


class ScopeProblem(Exception):
    """The broadcaster's stored authorization does not allow these subscriptions."""

    def __init__(self, message: str, login_url: str, missing_scopes: list[str]):
        super().__init__(message)
        self.login_url = login_url
        self.missing_scopes = missing_scopes


@dataclass
class SetupReport:
    reused: list[dict] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"reused": self.reused, "created": self.created, "failed": self.failed}


def callback_url() -> str:
    """The URL Twitch sends webhook messages to: TWITCH_WEBHOOK_CALLBACK_URL, else PUBLIC_URL's."""
    settings = get_settings()
    return settings.twitch_webhook_callback_url or settings.public_url + WEBHOOK_PATH


def webhook_secret(secret: str | None = None) -> str:
    """The secret to give Twitch: the one asked for, else TWITCH_WEBHOOK_SECRET."""
    secret = secret or get_settings().twitch_webhook_secret
    if not secret:
        raise NotConfigured("set TWITCH_WEBHOOK_SECRET (10 to 100 characters) or give a secret")
    if not 10 <= len(secret) <= 100:
        raise ValueError("secret: Twitch wants 10 to 100 characters")
    return secret


def check_scopes(broadcaster_id: str, event_types: Iterable[str]) -> None:
    """Raise ScopeProblem unless the broadcaster's stored token has every scope these types need."""
    needed = sorted({REQUIRED_SCOPES[name] for name in event_types if name in REQUIRED_SCOPES})
    if not needed:
        return
    try:
        status = tokens.user_status(broadcaster_id)
    except tokens.UnknownAccount:
        url = tokens.login_url(needed)
        raise ScopeProblem(f"broadcaster {broadcaster_id} has not authorized WaddleBot: they log in at {url} "
                           f"granting {', '.join(needed)}", url, needed) from None
    granted = set(status["scopes"])
    missing = [scope for scope in needed if scope not in granted]
    if missing:
        url = tokens.login_url(granted | set(needed))
        raise ScopeProblem(f"the token of {status['login']} lacks {', '.join(missing)}: they log in again at {url}",
                           url, missing)
    if status["needs_relogin"]:
        url = tokens.login_url(granted)
        raise ScopeProblem(f"the token of {status['login']} was rejected by Twitch: they log in again at {url}",
                           url, [])


def list_twitch(params: Mapping | None = None) -> list[dict]:
    """Every subscription Twitch has for our application (all pages)."""
    return list(helix_paginate(SUBSCRIPTIONS, params=dict(params or {})))


def sync_listed(subscriptions: Iterable[Mapping]) -> None:
    """Record Twitch's view (status, cost) of the subscriptions it listed, in one transaction."""
    with transaction(get_db()) as db:
        for subscription in subscriptions:
            eventsub.upsert_subscription(db, subscription, created_by_us=False)


def create(event_type: str, version: str, condition: Mapping, secret: str | None = None) -> dict:
    """Ask Twitch for a webhook subscription; returns Twitch's subscription object. Our row (with a
    per-subscription secret, if given) is committed first so the challenge can be verified."""
    transport = {"method": "webhook", "callback": callback_url(), "secret": webhook_secret(secret)}
    with transaction(get_db()) as db:
        provisional = eventsub.reserve_subscription(db, event_type=event_type, version=version, condition=condition,
                                                    callback=transport["callback"], secret=secret or None)
    body = json.dumps({"type": event_type, "version": version, "condition": dict(condition),
                       "transport": transport}).encode()
    try:
        response = helix_request("POST", SUBSCRIPTIONS, body=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()
    except Exception:
        with transaction(get_db()) as db:
            eventsub.forget_reservation(db, provisional)
        raise
    created = response.json()["data"][0]
    with transaction(get_db()) as db:
        eventsub.attach_subscription(db, provisional, created)
    return created


def delete(twitch_id: str) -> bool:
    """Delete the subscription at Twitch and ours; False when neither knew it."""
    response = helix_request("DELETE", SUBSCRIPTIONS, params={"id": twitch_id})
    if response.status != 404:
        response.raise_for_status()
    with transaction(get_db()) as db:
        removed = db(db.eventsub_subscription.twitch_id == twitch_id).delete()
    return response.status != 404 or bool(removed)


def _matches(subscription: Mapping, event_type: str, version: str, condition: dict[str, str], callback: str) -> bool:
    transport = subscription.get("transport") or {}
    return (subscription.get("type") == event_type and str(subscription.get("version")) == version
            and eventsub.normalize_condition(subscription.get("condition")) == condition
            and transport.get("method") == "webhook" and transport.get("callback") == callback)


def _summary(subscription: Mapping) -> dict:
    return {"id": subscription.get("id"), "type": subscription.get("type"), "version": subscription.get("version"),
            "status": subscription.get("status"), "cost": subscription.get("cost", 0)}


def _reuse_or_create(existing: list[dict], event_type: str, version: str, broadcaster_id: str,
                     report: SetupReport) -> None:
    condition = standard_condition(event_type, broadcaster_id)
    matching = [item for item in existing if _matches(item, event_type, version, condition, callback_url())]
    live = next((item for item in matching if item.get("status") in eventsub.LIVE_STATUSES), None)
    if live is not None:
        report.reused.append(_summary(live))
        return
    try:
        for broken in matching:  # verification failed or revoked: Twitch keeps it, we replace it
            delete(broken["id"])
        report.created.append(_summary(create(event_type, version, condition)))
    except HelixError as err:
        report.failed.append({"type": event_type, "version": version, "status": err.status, "error": str(err)})


def ensure_standard(broadcaster_id: str) -> SetupReport:
    """Make sure the channel has the standard subscription set: reuse what matches (type, version,
    condition, transport), create only what is missing. Raises ScopeProblem before any change."""
    webhook_secret()
    check_scopes(broadcaster_id, (name for name, _ in STANDARD_TYPES))
    existing = list_twitch()
    sync_listed(existing)
    report = SetupReport()
    for event_type, version in STANDARD_TYPES:
        _reuse_or_create(existing, event_type, version, broadcaster_id, report)
    log.info("EventSub setup of %s: %d reused, %d created, %d failed", broadcaster_id, len(report.reused),
             len(report.created), len(report.failed))
    return report
