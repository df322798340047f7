"""The whole outside world on 127.0.0.1: one HTTP server for Twitch OAuth, Helix, the YouTube Data
API, oEmbed and the WaddleBot APIs (by path), a WebSocket server for EventSub and one for chat, the
webhook sender, and the scenario player wired to them. `settings()` gives the environment that
points WaddleBot at all of it.

Viewers' chat reaches the bot the way it listens: as channel.chat.message notifications to its
EventSub session (the sandbox bot granted user:read:chat and user:write:chat, so CHAT_TRANSPORT=auto
picks EventSub) and, should it listen on IRC instead, as IRC lines; its answers come back through
Helix's Send Chat Message or as IRC PRIVMSGs."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from modules.sandbox.eventsub_ws import FakeEventSub
from modules.sandbox.helix import FakeHelix
from modules.sandbox.irc import FakeChat
from modules.sandbox.player import Player
from modules.sandbox.recorders import FakeWaddlebotApis
from modules.sandbox.scenario import Scenario
from modules.sandbox.twitch_id import FakeTwitchId
from modules.sandbox.web import Request, Response, Server, json_response
from modules.sandbox.webhooks import WebhookSender
from modules.sandbox.world import TwitchUser
from modules.sandbox.youtube import FakeOEmbed, FakeYouTube, LiveVideo

WEBHOOK_SECRET = "sandbox-webhook-secret-0123456789"
CHAT_MESSAGE = "channel.chat.message"
CHAT_PREFIX = "channel.chat."  # the chat bot's subscriptions, not the channel's


def chat_message(broadcaster: TwitchUser, chatter: TwitchUser, text: str) -> dict:
    """A channel.chat.message event as EventSub sends it; the chatter's name is the login, as the
    sandbox's IRC chat shows it (display-name tag), so both transports name viewers alike."""
    return {"broadcaster_user_id": broadcaster.id, "broadcaster_user_login": broadcaster.login,
            "broadcaster_user_name": broadcaster.display_name, "chatter_user_id": chatter.id,
            "chatter_user_login": chatter.login, "chatter_user_name": chatter.login,
            "message_id": str(uuid.uuid4()), "message": {"text": text, "fragments": [
                {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}]},
            "color": "#1E90FF", "badges": [], "message_type": "text", "cheer": None, "reply": None,
            "channel_points_custom_reward_id": None, "channel_points_animation_id": None}

@dataclass
class Mux:
    """Routes a request to the fake that owns its path prefix."""

    routes: list[tuple[str, object]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        for prefix, fake in self.routes:
            if request.path.startswith(prefix):
                return fake.handle(request)
        return json_response({"error": f"the sandbox has no fake at {request.path}"}, 404)


class Sandbox:
    """Start with `start()`, stop with `stop()`. `status()` is what the sandbox page shows."""

    def __init__(self, scenario: Scenario, speed: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 http_port: int = 0, public_url: str = "http://127.0.0.1:8000"):
        self.public_url = public_url
        self.id = FakeTwitchId()
        self.helix = FakeHelix(client_id=self.id.client_id, id_server=self.id)
        self.youtube = FakeYouTube()
        self.oembed = FakeOEmbed()
        self.apis = FakeWaddlebotApis()
        self.sender = WebhookSender()
        self.helix.verifier = self.sender.challenge
        self.player = Player(scenario, SandboxStage(self), clock=clock, speed=speed)
        for stream in scenario.youtube:
            self.youtube.videos[stream.video_id] = LiveVideo(
                stream.video_id, stream.title, stream.channel,
                viewers=lambda video_id=stream.video_id: self.player.viewers(video_id))
        mux = Mux([("/oauth2", self.id), ("/helix", self.helix), ("/youtube/v3", self.youtube),
                   ("/youtube/oembed", self.oembed), ("/spotify/oembed", self.oembed), ("/thumbs", self.oembed),
                   ("/reputation", self.apis), ("/context", self.apis), ("/gateway", self.apis),
                   ("/_sandbox", self)])
        self.http = Server(mux, http_port)
        self.id.base_url = f"{self.http.url}/oauth2"
        self.oembed.base_url = self.http.url
        self.eventsub = FakeEventSub(auto=True)
        self.chat = FakeChat(accept=lambda token: self.id.token_of(token) is not None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def settings(self) -> dict[str, str]:
        """Environment variables pointing WaddleBot at the fakes."""
        url = self.http.url
        return {
            "WADDLEBOT_SANDBOX": "true", "SANDBOX_URL": url,
            "TWITCH_APP_ID": self.id.client_id, "TWITCH_APP_SECRET": self.id.client_secret,
            "TWITCH_ID_URL": f"{url}/oauth2", "TWITCH_HELIX_URL": f"{url}/helix",
            "TWITCH_EVENTSUB_WS_URL": self.eventsub.url, "TWITCH_IRC_URL": self.chat.url,
            "CHAT_TRANSPORT": "auto",  # the sandbox bot's grants make it EventSub; IRC still works
            "TWITCH_WEBHOOK_SECRET": WEBHOOK_SECRET, "PUBLIC_URL": self.public_url,
            "TWITCH_DEFAULT_SCOPES": "user:read:email moderator:read:followers channel:read:subscriptions bits:read "
                                     "channel:moderate",
            "YOUTUBE_API_URL": f"{url}/youtube/v3", "YT_API_KEY": self.youtube.api_key,
            "YOUTUBE_OEMBED_URL": f"{url}/youtube/oembed", "SPOTIFY_OEMBED_URL": f"{url}/spotify/oembed",
            "REPUTATION_API_URL": f"{url}/reputation", "CONTEXT_API_URL": f"{url}/context",
            "GATEWAY_ACTIVATE_URL": f"{url}/gateway/activate",
        }

    def handle(self, request: Request) -> Response:
        """GET /_sandbox/status: the scenario's progress and what the WaddleBot APIs received."""
        if request.path != "/_sandbox/status":
            return json_response({"error": "GET /_sandbox/status"}, 404)
        return json_response(self.status())

    def status(self) -> dict:
        return {"scenario": self.player.status(), "received": {name: self.apis.latest(name, 30)
                                                               for name in ("reputation", "context", "gateway")},
                "counts": dict(self.apis.counts),
                "subscriptions": [{"type": item["type"], "status": item["status"],
                                   "method": item["transport"]["method"]} for item in self.helix.subscriptions],
                "chat_channels": sorted(self.chat.channels() | self.eventsub_chat_channels()),
                "webhooks_sent": len(self.sender.sent)}

    def verified(self) -> bool:
        """The channel's subscriptions (not the chat bot's) exist and none awaits its callback
        verification any more."""
        statuses = [item["status"] for item in self.helix.subscriptions if not item["type"].startswith(CHAT_PREFIX)]
        return "enabled" in statuses and "webhook_callback_verification_pending" not in statuses

    def eventsub_chat_channels(self) -> set[str]:
        """The channels whose chat messages some EventSub subscription receives."""
        ids = {item["condition"].get("broadcaster_user_id") for item in self.helix.subscriptions_of(CHAT_MESSAGE)
               if item["status"] == "enabled"}
        return {user["login"] for user in list(self.helix.users.values()) if user["id"] in ids}

    def ready(self) -> bool:
        """WaddleBot listens: its chat bot hears the channel (IRC or EventSub) and its
        subscriptions are verified."""
        channel = self.player.scenario.channel
        hears = channel in self.chat.channels() or channel in self.eventsub_chat_channels()
        return hears and self.verified()

    def start(self, wait_for_waddlebot: bool = True) -> None:
        """Play the scenario in a thread, once WaddleBot listens (unless told not to wait)."""
        def play() -> None:
            while wait_for_waddlebot and not self.ready():
                if self._stop.wait(0.5):
                    return
            self.player.run(self._stop)

        self._thread = threading.Thread(target=play, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.eventsub.stop()
        self.chat.close()
        self.http.stop()


class SandboxStage:
    """The player's stage: the sandbox's fakes."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.session = requests.Session()

    def user(self, login: str) -> TwitchUser:
        """The fake account with this login; an unknown login gets a stable id and an account."""
        helix = self.sandbox.helix
        found = next((user for user in helix.users.values() if user["login"] == login.lower()), None)
        if found is not None:
            return TwitchUser(found["id"], found["login"], found["broadcaster_type"])
        user = TwitchUser(str(5000 + int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)), login.lower())
        helix.users[user.id] = user.helix()
        self.sandbox.id.users[user.id] = user
        return user

    def deliver(self, event_type: str, broadcaster: TwitchUser, event: dict) -> int:
        delivered = 0
        for subscription in self.sandbox.helix.enabled(event_type, broadcaster.id):
            if subscription["transport"]["method"] == "webhook":
                secret = self.sandbox.helix.secrets.get(subscription["id"], "")
                status = self.sandbox.sender.notify(subscription, secret, event)
                delivered += status is not None and 200 <= status < 300
            else:
                delivered += self.sandbox.eventsub.notify_session(subscription, event)
        return delivered

    def chat(self, channel: str, user: TwitchUser, text: str) -> int:
        """A viewer's message, to the bot's EventSub session and to IRC connections in the channel."""
        broadcaster = self.user(channel)
        heard = self.deliver(CHAT_MESSAGE, broadcaster, chat_message(broadcaster, user, text))
        return heard + self.sandbox.chat.say(channel, user.login, user.id, text)

    def bot_messages(self) -> list[str]:
        """What the bot said, in order: through Send Chat Message, then on IRC (it uses one at a time;
        only the one in use grows, so a count taken earlier still marks where new ones start)."""
        sent = [item["message"] for item in list(self.sandbox.helix.sent) if item["is_sent"]]
        return sent + [line.split(" :", 1)[1] for line in self.sandbox.chat.lines("PRIVMSG") if " :" in line]

    def submit(self, url: str, link: str) -> int | None:
        try:
            return self.session.post(url, data={"url": link}, allow_redirects=False, timeout=10).status_code
        except requests.RequestException:
            return None

    def set_twitch_viewers(self, login: str, viewers: int | None) -> None:
        if viewers is None:
            self.sandbox.helix.live.pop(login, None)
        else:
            self.sandbox.helix.live[login] = viewers

    def youtube_chat(self, video_id: str, author: str, text: str) -> None:
        if video_id in self.sandbox.youtube.videos:
            self.sandbox.youtube.post_chat(video_id, author, text)
