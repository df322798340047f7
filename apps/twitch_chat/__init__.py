"""twitch_chat: the Twitch chat listener, chat commands and the !reco recommendation flow."""

from . import controllers, overlay  # noqa: F401
