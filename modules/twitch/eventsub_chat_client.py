"""Chat over EventSub for one user token, framework-free (requests + EventSubWebSocket): what
`TwitchChatListener` uses when it is given transport="eventsub". The token is validated once to
learn the client id and the bot's user id; each channel's broadcaster id comes from GET /users;
`channel.chat.message` is subscribed on every new session; `say` posts to /chat/messages."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable

import requests

from modules.twitch import oauth
from modules.twitch.eventsub_chat import (
    CHAT_MESSAGE,
    SEND_PATH,
    SendResult,
    chat_condition,
    chat_message_from_event,
    parse_send_result,
    send_chat_message_body,
)
from modules.twitch.eventsub_ws import EventSubWebSocket, Notification, Session
from modules.twitch.helix import error_message
from modules.twitch.irc import ChatMessage, channel_name

log = logging.getLogger(__name__)
TWITCH_HELIX_URL = "https://api.twitch.tv/helix"
TWITCH_ID_URL = "https://id.twitch.tv/oauth2"
CHAT_SCOPES = frozenset({"user:read:chat", "user:write:chat"})


class ChatApiError(Exception):
    """Helix refused a chat call (the message says why)."""


class EventSubChatClient:
    """Reads `channels` over EventSub and sends with Send Chat Message; `run(stop)` in a thread."""

    def __init__(self, token: str, channels: Iterable[str], *, on_message: Callable[[ChatMessage], None],
                 eventsub_url: str, helix_url: str = TWITCH_HELIX_URL, id_url: str = TWITCH_ID_URL,
                 timeout: float = 10.0, **client_options):
        self.token = token.removeprefix("oauth:")
        self.channels = {channel_name(channel) for channel in channels}
        self.helix_url, self.id_url, self.timeout = helix_url.rstrip("/"), id_url.rstrip("/"), timeout
        self._on_message = on_message
        self.broadcaster_ids: dict[str, str] = {}
        self.info: oauth.TokenInfo | None = None
        self._http = requests.Session()
        self._lock = threading.Lock()
        self.websocket = EventSubWebSocket(eventsub_url, on_session=self._session,
                                           on_notification=self._notification, **client_options)

    def run(self, stop: threading.Event) -> None:
        self._identify()
        self.websocket.run(stop)

    def _identify(self) -> None:
        """The token's client id, user and scopes, and the channels' broadcaster ids."""
        self.info = oauth.validate(self.id_url, self.token, self.timeout)
        missing = sorted(CHAT_SCOPES - set(self.info.scopes))
        if missing:
            raise ChatApiError(f"the token lacks {', '.join(missing)}: chat over EventSub needs both")
        answer = self._call("GET", "users", params=[("login", login) for login in sorted(self.channels)])
        self.broadcaster_ids = {user["login"]: user["id"] for user in answer.get("data") or []}
        unknown = self.channels - set(self.broadcaster_ids)
        if unknown:
            raise ChatApiError(f"Twitch knows no channel {', '.join(sorted(unknown))}")

    def _call(self, method: str, path: str, **options) -> dict:
        with self._lock:  # one requests.Session, shared by the socket thread and callers of say
            response = self._http.request(method, f"{self.helix_url}/{path}", timeout=self.timeout, headers={
                "Authorization": f"Bearer {self.token}", "Client-Id": self.info.client_id,
                "Content-Type": "application/json"}, **options)
        if response.status_code == 409:  # a subscription that exists already
            return {}
        if not response.ok:
            raise ChatApiError(f"Helix {method} /{path} answered {response.status_code}: "
                               f"{error_message(response.content)}")
        return response.json() if response.content else {}

    def _session(self, session: Session) -> None:
        if session.reconnected:
            return
        for broadcaster_id in self.broadcaster_ids.values():
            body = {"type": CHAT_MESSAGE, "version": "1", "condition": chat_condition(broadcaster_id,
                                                                                     self.info.user_id),
                    "transport": {"method": "websocket", "session_id": session.id}}
            self._call("POST", "eventsub/subscriptions", data=json.dumps(body))

    def _notification(self, notification: Notification) -> None:
        if notification.type != CHAT_MESSAGE:
            return
        try:
            message = chat_message_from_event(notification.event)
        except ValueError as err:
            log.warning("ignored a chat message: %s", err)
            return
        self._on_message(message)

    def say(self, channel: str, text: str, reply_to: str | None = None) -> SendResult | None:
        """Send now; None when the channel is unknown or Helix refused (logged). A dropped
        message (is_sent false) is returned as it is, not sent again."""
        broadcaster_id = self.broadcaster_ids.get(channel_name(channel))
        if broadcaster_id is None or self.info is None:
            log.warning("not connected to #%s; message not sent", channel)
            return None
        try:
            answer = self._call("POST", SEND_PATH, data=send_chat_message_body(broadcaster_id, self.info.user_id,
                                                                                text, reply_to))
        except (ChatApiError, requests.RequestException, ValueError) as err:
            log.warning("message to #%s not sent: %s", channel, err)
            return None
        result = parse_send_result(json.dumps(answer).encode())
        if not result.is_sent:
            log.warning("Twitch dropped a message to #%s (%s: %s)", channel, result.drop_code, result.drop_message)
        return result
