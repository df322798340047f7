"""Chat over EventSub with the app token: the bot granted user:bot, each channel's broadcaster
channel:bot (or the bot is a moderator there). Twitch takes such subscriptions only on a conduit or
webhooks, whose events the EventSub module receives and stores; this listener never sees that
module: it declares the subscriptions it needs (`wanted_subscriptions`, manifest "consumes") and
reads the chat events published to it (shared.dispatch). Replies go through Send Chat Message with
the app token, so Twitch shows the bot badge."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from apps.twitch_chat.bot import BotAccount
from apps.twitch_chat.eventsub_listener import handle_chat_event
from apps.twitch_chat.sender import HelixChatSender
from apps.twitch_chat.transport import current_choice
from modules.twitch.eventsub_chat import CHAT_TYPES, chat_condition
from shared import tokens
from shared.db import get_db, transaction
from shared.dispatch import DispatchFeed, Wanted
from shared.registry import NeedsReauth, NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # how often new chat events are looked for when there were none


class AppTokenChatListener(BotAccount):
    """Reads the chat events dispatched to twitch_chat and answers as the bot with the app token.
    Offers what the other listeners offer the service: `run(stop)`, `state`, `detail`, `joined`."""

    transport = "eventsub"

    def __init__(self, bot: tokens.BotCredentials, channels: Callable[[], dict[str, str]], *,
                 refresh_seconds: float = 60.0, poll_seconds: float = POLL_SECONDS, on_report=None,
                 clock: Callable[[], float] = time.monotonic):
        if not bot.user_id:
            raise NotConfigured(f"bot {bot.name} has no Twitch user id: log it in with `waddlebot bots add`")
        super().__init__(bot)
        self._channels_source, self.refresh_seconds, self.poll_seconds = channels, refresh_seconds, poll_seconds
        self._on_report, self.clock = on_report or (lambda: None), clock
        self.channel_ids: dict[str, str] = {}
        self.sender = HelixChatSender(bot.user_id, lambda: None, None, self.channel_ids)  # None: the app token
        self.state, self.detail = "connecting", "waiting for the EventSub module's chat events"

    @property
    def joined(self) -> set[str]:
        """The channels whose chat events are asked for (Twitch refuses a channel without
        channel:bot or moderator status: the EventSub module logs it and asks again later)."""
        return set(self.channel_ids)

    def run(self, stop: threading.Event) -> None:
        with transaction(get_db()) as db:
            feed = DispatchFeed.from_latest(db, CHAT_TYPES, clock=self.clock)
        self.state = "connected"
        self.detail = "reading the chat events the EventSub module receives with the app token"
        refreshed_at = float("-inf")
        while not stop.is_set():
            if self.clock() - refreshed_at >= self.refresh_seconds:
                refreshed_at = self.clock()
                self.channel_ids.clear()
                self.channel_ids.update(self._channels_source())
                self._on_report()
            with transaction(get_db()) as db:
                rows = feed.poll(db)
            for row in rows:
                handle_chat_event(row.event_type, row.message_id, row.event, self.sender, self.channel_ids)
            if not rows:
                stop.wait(self.poll_seconds)


def wanted_subscriptions() -> list[Wanted]:
    """The chat subscriptions (app token) of every active channel, while the chat bot uses the
    app-token path; none otherwise (manifest "consumes": the EventSub module makes them)."""
    from apps.twitch_chat.workers import active_channel_ids  # workers imports this module

    try:
        bot = tokens.get_bot(get_settings().chat_bot or None)
    except (NotConfigured, NeedsReauth):
        return []
    if not bot.user_id or current_choice(bot).kind != ("eventsub", "app"):
        return []
    return [Wanted(event_type, "1", chat_condition(broadcaster_id, bot.user_id))
            for broadcaster_id in active_channel_ids().values() for event_type in CHAT_TYPES]
