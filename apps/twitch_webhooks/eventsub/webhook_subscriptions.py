"""EVENTSUB_TRANSPORT=webhook: the app token's subscriptions on the webhook transport — the hub's
interests, the standard set of every active channel and what other modules consume (the chat
bot's chat types with the app token) — made by one worker, their events received by
/twitch_webhooks/webhook. Twitch calls back only an https URL on port 443: without one the service
refuses and says so."""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import urlsplit

from apps.twitch_webhooks.conduit.subscriptions import AppTokenSubscriptions
from apps.twitch_webhooks.eventsub import helix as eventsub_helix
from shared.helix.client import HelixError, HelixUnavailable
from shared.registry import NotConfigured

log = logging.getLogger(__name__)
LOOK_SECONDS = 30.0  # how often the wanted subscriptions are compared with ours


class WebhookSubscriptions(AppTokenSubscriptions):
    transport_method = "webhook"

    def _create(self, event_type: str, version: str, condition: str) -> bool:
        try:
            eventsub_helix.create(event_type, version, json.loads(condition))
        except (HelixError, HelixUnavailable, NotConfigured, ValueError) as err:
            log.warning("webhooks: creating %s %s failed: %s", event_type, condition, err)
            return False
        return True


def callback_problem() -> str | None:
    """Why Twitch cannot call our webhook back, or None."""
    url = eventsub_helix.callback_url()
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port not in (None, 443):
        return (f"EVENTSUB_TRANSPORT=webhook: Twitch calls back only https on port 443, and the callback is {url}: "
                "set PUBLIC_URL (or TWITCH_WEBHOOK_CALLBACK_URL) to the public https address, or use "
                "EVENTSUB_TRANSPORT=websocket or conduit")
    return None


def serve(stop: threading.Event, subscriptions: WebhookSubscriptions | None = None) -> None:
    """Service body: keep the webhook subscriptions made, until `stop`; refuses (logs why and
    waits) when the callback is not a public https URL."""
    problem = callback_problem()
    if problem is not None:
        log.error("%s", problem)
        stop.wait()
        return
    subscriptions = subscriptions or WebhookSubscriptions()
    while not stop.is_set():
        subscriptions.ensure()
        stop.wait(LOOK_SECONDS)
