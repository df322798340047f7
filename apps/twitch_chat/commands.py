"""The chat commands the listener answers. Each is a passive function declared on `registry`."""

from __future__ import annotations

from apps.twitch_chat import reco
from modules.twitch.commands import ChatCommand, CommandRegistry
from shared.db import get_db, transaction

registry = CommandRegistry()


@registry.command("reco", aliases=("recommend",), user_cooldown=3)
def recommend(command: ChatCommand) -> str | None:
    """`!reco <comment>`: a link where the viewer submits a YouTube or Spotify recommendation."""
    message = command.message
    if not (message.room_id and message.user_id):  # without Twitch tags there is no one to credit
        return None
    name = message.display_name
    with transaction(get_db()) as db:
        try:
            token, ticket, created = reco.open_ticket(
                db, channel_id=message.room_id, channel_login=message.channel, user_id=message.user_id,
                user_login=message.login, user_name=name, comment=command.comment)
        except reco.RecoCooldown as wait:
            return f"@{name} you can ask for another recommendation link in {wait.remaining} s."
    minutes = max(1, reco.minutes_left(ticket))
    if created:
        return f"@{name} send your YouTube or Spotify link within {minutes} min: {reco.submit_url(token)}"
    return f"@{name} your recommendation link is still open ({minutes} min left): {reco.submit_url(token)}"
