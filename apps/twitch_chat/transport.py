"""Which chat transport a bot uses: CHAT_TRANSPORT=auto|eventsub|irc, EVENTSUB_TRANSPORT and the
bot's grants."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared import tokens
from shared.db import get_db, transaction
from shared.settings import get_settings

USER_TOKEN_SCOPES = frozenset({"user:read:chat", "user:write:chat"})
IRC_SCOPES = frozenset({"chat:read", "chat:edit"})
BOT_SCOPE = "user:bot"
APP_TOKEN_TRANSPORTS = ("conduit", "webhook")  # Twitch takes app-token subscriptions only on these


@dataclass(frozen=True)
class Choice:
    """The transport in use and why (shown by health and the admin home). `token` says whose
    token reads and sends over EventSub: the bot's ("user") or the app's ("app")."""

    transport: str  # "eventsub" or "irc"
    reason: str
    token: str = "user"

    @property
    def kind(self) -> tuple[str, str]:
        """What a switch compares: the transport and, for EventSub, whose token."""
        return self.transport, self.token if self.transport == "eventsub" else ""


def choose_transport(setting: str, bot_scopes: Iterable[str] | None, eventsub_transport: str = "websocket") -> Choice:
    """`bot_scopes` None: unknown (a static TWITCH_OAUTH_TOKEN). EventSub with the bot's user token
    needs user:read:chat + user:write:chat; else EventSub with the app token needs user:bot from
    the bot (and, per channel, channel:bot from the broadcaster or the bot as moderator: Twitch
    checks it) and EVENTSUB_TRANSPORT=conduit or webhook, whose events the EventSub module stores."""
    scopes = frozenset(bot_scopes or ())
    if setting == "irc":
        return Choice("irc", "CHAT_TRANSPORT=irc")
    why = "CHAT_TRANSPORT=eventsub" if setting == "eventsub" else "auto"
    if USER_TOKEN_SCOPES <= scopes:
        return Choice("eventsub", f"{why}: the bot granted user:read:chat and user:write:chat")
    if BOT_SCOPE in scopes and eventsub_transport in APP_TOKEN_TRANSPORTS:
        return Choice("eventsub", f"{why}: EventSub with the app token (user:bot + channel:bot) through the "
                                  f"{eventsub_transport} (EVENTSUB_TRANSPORT={eventsub_transport})", token="app")
    missing = ", ".join(sorted(USER_TOKEN_SCOPES - scopes))
    known = "the static bot's scopes are unknown (TWITCH_OAUTH_TOKEN)" if bot_scopes is None else \
        f"the bot lacks {missing}"
    if BOT_SCOPE in scopes:
        known += " (its user:bot grant needs EVENTSUB_TRANSPORT=conduit or webhook)"
    if setting == "eventsub":
        return Choice("irc", f"CHAT_TRANSPORT=eventsub but {known}: log the bot in again with those scopes; "
                             "using IRC meanwhile")
    return Choice("irc", f"auto: {known}")


def bot_scopes(bot: tokens.BotCredentials) -> list[str] | None:
    """The scopes the bot granted; None for the static bot (TWITCH_OAUTH_TOKEN: not known)."""
    with transaction(get_db()):  # a fresh read: a new grant must be seen by this long-lived thread
        entry = next((entry for entry in tokens.list_bots() if entry["name"] == bot.name), None)
    return None if entry is None or entry["static"] else entry["scopes"]


def current_choice(bot: tokens.BotCredentials) -> Choice:
    settings = get_settings()
    return choose_transport(settings.chat_transport, bot_scopes(bot), settings.eventsub_transport)
