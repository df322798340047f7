"""Gateway activation on a user's first authorization, delivered (and retried) by the outbox so a
gateway that is down when someone logs in does not lose the activation."""

from __future__ import annotations

import requests

from modules.waddlebot_api import ApiError, GatewayClient
from shared.outbox import deliverer, enqueue
from shared.settings import Settings, get_settings

KIND = "gateway"


def activation_key(user_id: str) -> str:
    return f"activate:twitch:{user_id}"


def queue_activation(db, user_id: str, login: str) -> bool:
    """Queue the activation of a user authorizing for the first time, in the caller's
    transaction. False when GATEWAY_ACTIVATE_URL is unset or the user was activated before."""
    if not get_settings().gateway_activate_url:
        return False
    key = activation_key(user_id)
    if not db(db.outbox.idempotency_key == key).isempty():
        return False
    enqueue(db, KIND, {"platform": "twitch", "user_id": user_id, "login": login}, idempotency_key=key)
    return True


@deliverer(KIND)
def deliver_activation(row, session: requests.Session, settings: Settings) -> None:
    if not settings.gateway_activate_url:
        raise ApiError("GATEWAY_ACTIVATE_URL is not configured", retryable=True)
    body = row.body
    GatewayClient(settings.gateway_activate_url, settings.waddlebot_api_key, settings.api_timeout_seconds,
                  session).activate(body["platform"], body["user_id"], body["login"])
