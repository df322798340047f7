"""Sending chat messages with the Send Chat Message API through the Helix pipeline (rate limits,
429 retries, breaker). Twitch may answer 200 with `is_sent: false` and a `drop_reason` (AutoMod,
duplicate message, slow mode…): that is logged and counted by reason, never retried blindly —
sending the same text again would only be dropped again."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from prometheus_client import Counter

from modules.twitch.eventsub_chat import SEND_PATH, parse_send_result, send_chat_message_body
from modules.twitch.helix import error_message
from shared.helix.client import HelixUnavailable, helix_request

log = logging.getLogger(__name__)
SENT = Counter("waddlebot_chat_messages_sent_total", "Chat messages Twitch accepted", ["transport"])
DROPPED = Counter("waddlebot_chat_messages_dropped_total",
                  "Chat messages Twitch answered with is_sent false, by drop_reason code", ["reason"])
FAILED = Counter("waddlebot_chat_messages_failed_total", "Chat messages Helix refused or could not take",
                 ["status"])
_REASON = re.compile(r"^[a-z0-9_]{1,48}$")


def reason_label(code: str | None) -> str:
    """Twitch's drop_reason code as a bounded metric label."""
    return code if code and _REASON.match(code) else "other"


class HelixChatSender:
    """A ChatBackend that sends as the bot. `token()` gives the bot's user token (None: the app
    token, which the Helix pipeline renews itself), `refresh()` a new one after a 401 (None when
    only a new login helps; `refresh` None: nothing to refresh); `channel_ids` maps channel logins
    to broadcaster ids."""

    def __init__(self, sender_id: str, token: Callable[[], str | None], refresh: Callable[[], str | None] | None,
                 channel_ids: Mapping[str, str]):
        self.sender_id = sender_id
        self._token, self._refresh = token, refresh
        self.channel_ids = channel_ids

    def say(self, channel: str, text: str, reply_to: str | None = None) -> None:
        broadcaster_id = self.channel_ids.get(channel)
        if broadcaster_id is None:
            log.warning("chat: no broadcaster id known for #%s; message not sent", channel)
            return
        try:
            body = send_chat_message_body(broadcaster_id, self.sender_id, text, reply_to)
        except ValueError as err:
            log.warning("chat: message to #%s not sent: %s", channel, err)
            return
        try:
            response = self._post(body, self._token())
            if response.status == 401 and self._refresh is not None:  # once more with a refreshed token
                token = self._refresh()
                if token is None:
                    FAILED.labels("401").inc()
                    log.error("chat: Twitch refused the bot's token and it cannot be refreshed; message to #%s "
                              "not sent", channel)
                    return
                response = self._post(body, token)
        except HelixUnavailable as err:
            FAILED.labels("unavailable").inc()
            log.warning("chat: message to #%s not sent: %s", channel, err)
            return
        if not response.ok:
            FAILED.labels(str(response.status)).inc()
            log.warning("chat: Twitch refused a message to #%s (%s): %s", channel, response.status,
                        error_message(response.body))
            return
        result = parse_send_result(response.body)
        if result.is_sent:
            SENT.labels("eventsub").inc()
            return
        DROPPED.labels(reason_label(result.drop_code)).inc()
        log.warning("chat: Twitch dropped a message to #%s (%s: %s); not retried", channel, result.drop_code,
                    result.drop_message)

    @staticmethod
    def _post(body: bytes, token: str | None):
        return helix_request("POST", SEND_PATH, body=body, headers={"Content-Type": "application/json"},
                             user_token=token, cache_ttl=0)
