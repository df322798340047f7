"""The bot account a chat listener speaks as, whatever the transport: its token, refreshed through
the token service after Twitch refused it."""

from __future__ import annotations

import logging

from shared import tokens
from shared.registry import NeedsReauth, NotConfigured

log = logging.getLogger(__name__)


class BotAccount:
    def __init__(self, bot: tokens.BotCredentials):
        self.bot = bot

    def token(self) -> str:
        return self.bot.token

    def refresh(self) -> str | None:
        """After Twitch refused the token: a refreshed one, or None when only a new login helps."""
        try:
            self.bot = tokens.refresh_bot(self.bot.name)
        except (NeedsReauth, NotConfigured) as err:
            log.error("chat bot %s: %s", self.bot.name, err)
            return None
        return self.bot.token


class ConnectedBot(BotAccount):
    """A listener with a connection of its own (`self.client`), whose state and detail it reports."""

    @property
    def state(self) -> str:
        return self.client.state

    @property
    def detail(self) -> str:
        return self.client.detail
