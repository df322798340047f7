"""The fake Twitch accounts the sandbox knows: a broadcaster, the bot, viewers (ids are digits, as
on Twitch; logins lower case)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TwitchUser:
    id: str
    login: str
    broadcaster_type: str = ""

    @property
    def display_name(self) -> str:
        return self.login.capitalize()

    def helix(self) -> dict:
        """The user as Helix `users` returns it."""
        return {"id": self.id, "login": self.login, "display_name": self.display_name, "type": "",
                "broadcaster_type": self.broadcaster_type, "description": f"{self.display_name} (sandbox)",
                "profile_image_url": "", "offline_image_url": "", "view_count": 0,
                "created_at": "2016-12-14T20:32:28Z"}


BROADCASTER = TwitchUser("1001", "waddle_streamer", "affiliate")
BOT = TwitchUser("999", "waddlebot")
VIEWER_NAMES = ("penguin_pat", "iceberg_ida", "fishy_fred", "snowy_sam", "krill_kim", "flipper_flo",
                "glacier_gus", "puffin_pia", "emperor_eli", "waddler_wu", "tuxedo_tom", "floe_fay")
VIEWERS = tuple(TwitchUser(str(2001 + index), name) for index, name in enumerate(VIEWER_NAMES))
RAIDER = TwitchUser("3001", "friendly_raider", "partner")


def default_users() -> list[TwitchUser]:
    return [BROADCASTER, BOT, *VIEWERS, RAIDER]
