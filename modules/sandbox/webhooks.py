"""Sends EventSub webhook messages the way Twitch does: the callback verification challenge, then
signed notifications and revocations (HMAC-SHA256 of id + timestamp + body with the subscription's
secret, Twitch-Eventsub-* headers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import requests

from modules.twitch.eventsub import NOTIFICATION, REVOCATION, VERIFICATION, signed_message


@dataclass
class WebhookSender:
    timeout: float = 5.0
    session: requests.Session = field(default_factory=requests.Session)
    sent: list[tuple[str, str, int | None]] = field(default_factory=list)  # (message type, sub type, status)

    def _post(self, secret: str, message_type: str, payload: dict) -> requests.Response | None:
        subscription = payload["subscription"]
        headers, body = signed_message(secret, message_type, payload)
        try:
            response = self.session.post(subscription["transport"]["callback"], data=body, headers=headers,
                                         timeout=self.timeout)
        except requests.RequestException:
            self.sent.append((message_type, subscription["type"], None))
            return None
        self.sent.append((message_type, subscription["type"], response.status_code))
        return response

    def challenge(self, subscription: dict, secret: str) -> bool:
        """True when the callback answered 2xx with the challenge as its whole body."""
        challenge = uuid.uuid4().hex
        pending = {**subscription, "status": "webhook_callback_verification_pending"}
        response = self._post(secret, VERIFICATION, {"challenge": challenge, "subscription": pending})
        return response is not None and response.ok and response.text == challenge

    def notify(self, subscription: dict, secret: str, event: dict) -> int | None:
        """Deliver one event; the callback's status (None: unreachable)."""
        response = self._post(secret, NOTIFICATION, {"subscription": subscription, "event": event})
        return None if response is None else response.status_code

    def revoke(self, subscription: dict, secret: str, reason: str = "authorization_revoked") -> int | None:
        response = self._post(secret, REVOCATION, {"subscription": {**subscription, "status": reason}})
        return None if response is None else response.status_code
