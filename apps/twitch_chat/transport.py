"""Which chat transport a bot uses: CHAT_TRANSPORT=auto|eventsub|irc and the bot's grants."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

USER_TOKEN_SCOPES = frozenset({"user:read:chat", "user:write:chat"})
IRC_SCOPES = frozenset({"chat:read", "chat:edit"})


@dataclass(frozen=True)
class Choice:
    """The transport in use and why (shown by health and the admin home)."""

    transport: str  # "eventsub" or "irc"
    reason: str


def choose_transport(setting: str, bot_scopes: Iterable[str] | None) -> Choice:
    """`bot_scopes` None: unknown (a static TWITCH_OAUTH_TOKEN). EventSub needs the bot's user
    token with user:read:chat + user:write:chat (the app-token path, user:bot + channel:bot, needs
    a conduit or webhooks: not offered yet)."""
    scopes = frozenset(bot_scopes or ())
    if setting == "irc":
        return Choice("irc", "CHAT_TRANSPORT=irc")
    if USER_TOKEN_SCOPES <= scopes:
        why = "CHAT_TRANSPORT=eventsub" if setting == "eventsub" else "auto"
        return Choice("eventsub", f"{why}: the bot granted user:read:chat and user:write:chat")
    missing = ", ".join(sorted(USER_TOKEN_SCOPES - scopes))
    known = "the static bot's scopes are unknown (TWITCH_OAUTH_TOKEN)" if bot_scopes is None else \
        f"the bot lacks {missing}"
    if setting == "eventsub":
        return Choice("irc", f"CHAT_TRANSPORT=eventsub but {known}: log the bot in again with those scopes; "
                             "using IRC meanwhile")
    return Choice("irc", f"auto: {known}")
