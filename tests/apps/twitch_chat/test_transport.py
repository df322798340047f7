"""CHAT_TRANSPORT and the bot's grants decide the chat transport, and say why."""

from apps.twitch_chat.transport import choose_transport

BOTH = ("chat:read", "chat:edit", "user:read:chat", "user:write:chat")


def test_auto_uses_eventsub_when_the_bot_granted_both_chat_scopes():
    choice = choose_transport("auto", BOTH)
    assert (choice.transport, choice.reason) == ("eventsub", "auto: the bot granted user:read:chat and user:write:chat")


def test_auto_falls_back_to_irc_and_names_the_missing_scope():
    assert choose_transport("auto", ("chat:read", "user:read:chat")).reason == "auto: the bot lacks user:write:chat"
    assert choose_transport("auto", None).reason == "auto: the static bot's scopes are unknown (TWITCH_OAUTH_TOKEN)"


def test_eventsub_asked_without_the_grants_says_what_to_do():
    choice = choose_transport("eventsub", ("chat:read",))
    assert choice.transport == "irc" and "log the bot in again" in choice.reason


def test_irc_when_asked_even_with_the_grants():
    assert choose_transport("irc", BOTH).transport == "irc"
