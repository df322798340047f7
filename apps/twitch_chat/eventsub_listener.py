"""Chat over EventSub: the bot's own EventSub WebSocket session with the chat types of every
active channel (made with the bot's user token), commands answered through the Send Chat Message
API. It offers what the IRC listener offers to the service: `run(stop)`, `state`, `detail` and
the channels it reads."""

from __future__ import annotations

import json
import logging
import threading
import time

from apps.twitch_chat.bot import ConnectedBot
from apps.twitch_chat.chat_events import run_command, store_chat_event
from apps.twitch_chat.sender import HelixChatSender
from modules.twitch.eventsub_chat import CHAT_MESSAGE, CHAT_TYPES, chat_condition, chat_message_from_event
from modules.twitch.eventsub_ws import EventSubWebSocket, Notification, Session, with_keepalive
from modules.twitch.helix import error_message
from shared import tokens
from shared.db import get_db, transaction
from shared.helix.client import HelixUnavailable, helix_request
from shared.registry import NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
SUBSCRIPTIONS = "eventsub/subscriptions"
RETRY_REFUSED_SECONDS = 60.0  # a channel Twitch refused is asked again this much later, not every tick


class EventSubChatListener(ConnectedBot):
    """One bot's chat over EventSub. `channels()` gives {login: broadcaster id} of the channels to
    read (called every `refresh_seconds`); `on_report()` is called when the state changes."""

    transport = "eventsub"

    def __init__(self, bot: tokens.BotCredentials, channels, *, refresh_seconds: float = 60.0,
                 on_report=None, clock=time.monotonic, **client_options):
        if not bot.user_id:
            raise NotConfigured(f"bot {bot.name} has no Twitch user id: log it in with `waddlebot bots add`")
        super().__init__(bot)
        self._channels_source, self.refresh_seconds, self.clock = channels, refresh_seconds, clock
        self._on_report = on_report or (lambda: None)
        self.channel_ids: dict[str, str] = {}
        self._subscribed: set[str] = set()  # broadcaster ids with subscriptions on this session
        self._refused_until: dict[str, float] = {}  # broadcaster id → when to ask Twitch again
        self._session_id: str | None = None
        self._refreshed_at = float("-inf")
        self.sender = HelixChatSender(bot.user_id, self.token, self.refresh, self.channel_ids)
        settings = get_settings()
        url = with_keepalive(settings.twitch_eventsub_ws_url, settings.eventsub_keepalive_seconds)
        client_options.setdefault("tick_interval", min(2.0, refresh_seconds))
        self.client = EventSubWebSocket(url, on_session=self._session, on_notification=self._notification,
                                        on_state=lambda state, detail: self._on_report(), on_tick=self._tick,
                                        **client_options)

    # -- what the service reads -----------------------------------------------------------------
    @property
    def joined(self) -> set[str]:
        """The channels whose chat this session reads."""
        return {login for login, broadcaster in dict(self.channel_ids).items() if broadcaster in self._subscribed}

    def run(self, stop: threading.Event) -> None:
        self.client.run(stop)

    # -- the session ----------------------------------------------------------------------------
    def _session(self, session: Session) -> None:
        self._session_id = session.id
        if not session.reconnected:  # a fresh session has no subscriptions
            self._subscribed.clear()
        self._refreshed_at = float("-inf")
        self._tick()

    def _tick(self) -> None:
        if self.clock() - self._refreshed_at >= self.refresh_seconds:
            self._refreshed_at = self.clock()
            wanted = self._channels_source()
            self.channel_ids.clear()
            self.channel_ids.update(wanted)
            self._subscribed &= set(wanted.values())  # a channel left keeps no stale entry
        now = self.clock()
        for login, broadcaster_id in list(self.channel_ids.items()):
            if broadcaster_id in self._subscribed or now < self._refused_until.get(broadcaster_id, 0.0):
                continue
            if self._subscribe(login, broadcaster_id):
                self._subscribed.add(broadcaster_id)
                self._refused_until.pop(broadcaster_id, None)
                self._on_report()
            else:
                self._refused_until[broadcaster_id] = now + RETRY_REFUSED_SECONDS

    def _subscribe(self, login: str, broadcaster_id: str) -> bool:
        """Every chat type of one channel on this session; False to try again on a later tick."""
        for event_type in CHAT_TYPES:
            body = json.dumps({"type": event_type, "version": "1", "condition": chat_condition(broadcaster_id,
                                                                                               self.bot.user_id),
                               "transport": {"method": "websocket", "session_id": self._session_id}}).encode()
            try:
                response = helix_request("POST", SUBSCRIPTIONS, body=body, user_token=self.token(),
                                         headers={"Content-Type": "application/json"}, cache_ttl=0)
                if response.status == 401 and self.refresh() is not None:
                    response = helix_request("POST", SUBSCRIPTIONS, body=body, user_token=self.token(),
                                             headers={"Content-Type": "application/json"}, cache_ttl=0)
            except HelixUnavailable as err:
                log.warning("chat over EventSub: subscribing to #%s deferred: %s", login, err)
                return False
            if response.status != 409 and not response.ok:  # 409: it exists already
                log.warning("chat over EventSub: Twitch refused %s for #%s (%s): %s", event_type, login,
                            response.status, error_message(response.body))
                return False
        return True

    def _notification(self, notification: Notification) -> None:
        handle_chat_event(notification.type, notification.message_id, notification.event, self.sender,
                          self.channel_ids)


def handle_chat_event(event_type: str, message_id: str, event, sender: HelixChatSender,
                      channel_ids: dict[str, str]) -> None:
    """One chat event over EventSub, whoever's token brought it: a message runs its command (once per
    Twitch message id), the other chat types are stored."""
    if event_type == CHAT_MESSAGE:
        try:
            message = chat_message_from_event(event)
        except ValueError as err:
            log.warning("chat over EventSub: ignored a message: %s", err)
            return
        channel_ids.setdefault(message.channel, message.room_id)
        run_command(message, sender, "eventsub")
    elif event_type in CHAT_TYPES:
        try:
            with transaction(get_db()) as db:
                store_chat_event(db, eventsub_message_id=message_id, event_type=event_type, event=event)
        except ValueError as err:
            log.warning("chat over EventSub: ignored a %s event: %s", event_type, err)
