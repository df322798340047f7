"""Twitch: OAuth, Helix, EventSub and IRC wire protocols (framework-free).

`from modules.twitch import TwitchChatListener` is the seed's import; the chat client (and its
WebSocket library) loads on first use, not with every Twitch module."""

from __future__ import annotations

__all__ = ["TwitchChatListener"]


def __getattr__(name: str):
    if name == "TwitchChatListener":
        from modules.twitch.chat_client import TwitchChatListener

        return TwitchChatListener
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
