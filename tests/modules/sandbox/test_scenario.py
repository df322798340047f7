"""Scenarios: the file format (errors name what to fix) and the player, run at high speed with an
explicit clock: against a recording stage, and against the real fakes with a webhook receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from websockets.sync.client import connect

from modules.sandbox import scenario as scenarios
from modules.sandbox.player import Player
from modules.sandbox.stack import WEBHOOK_SECRET, Sandbox
from modules.sandbox.world import BOT, TwitchUser
from modules.twitch.eventsub import verify_signature
from modules.youtube.data_api import YouTubeDataApi
from tests.waiting import Clock, wait_until


class RecordingStage:
    """The player's stage as a list of what happened; the bot answers every !reco with a link."""

    def __init__(self):
        self.events: list[tuple[str, dict]] = []
        self.chat_lines: list[tuple[str, str]] = []
        self.bot: list[str] = []
        self.submitted: list[tuple[str, str]] = []
        self.viewers: list[int | None] = []
        self.users: set[str] = set()

    def user(self, login: str) -> TwitchUser:
        self.users.add(login)
        return TwitchUser(str(abs(hash(login)) % 10**6), login)

    def deliver(self, event_type: str, broadcaster: TwitchUser, event: dict) -> int:
        self.events.append((event_type, event))
        return 1

    def chat(self, channel: str, user: TwitchUser, text: str) -> int:
        self.chat_lines.append((user.login, text))
        if text.startswith("!reco"):
            self.bot.append(f"@{user.login} send your link within 5 min: http://127.0.0.1:9/twitch_chat/submit/t{len(self.bot)}")
        return 1

    def bot_messages(self) -> list[str]:
        return list(self.bot)

    def submit(self, url: str, link: str) -> int | None:
        self.submitted.append((url, link))
        return 303

    def set_twitch_viewers(self, login: str, viewers: int | None) -> None:
        self.viewers.append(viewers)

    def youtube_chat(self, video_id: str, author: str, text: str) -> None:
        self.chat_lines.append((author, text))


def test_the_default_scenario_at_60x_plays_30_minutes_in_30_seconds_of_clock():
    scenario = scenarios.load()
    stage, clock = RecordingStage(), Clock(500.0)
    player = Player(scenario, stage, clock=clock, speed=60)
    player.start()
    player.tick()
    assert [name for name, _ in stage.events] == ["stream.online"] and player.status()["elapsed"] == 0
    clock.now += 10  # 600 scenario seconds
    player.tick()
    played = [name for name, _ in stage.events]
    assert played[:3] == ["stream.online", "channel.follow", "channel.follow"]
    assert "channel.subscription.gift" in played and "channel.raid" not in played  # the raid comes at 20 min
    clock.now += 20
    player.tick()
    kinds = {name for name, _ in stage.events}
    assert kinds >= {"channel.follow", "channel.subscribe", "channel.subscription.message",
                     "channel.subscription.gift", "channel.cheer", "channel.raid", "stream.offline"}
    raid = next(event for name, event in stage.events if name == "channel.raid")
    assert (raid["from_broadcaster_user_login"], raid["viewers"]) == ("friendly_raider", 250)
    gifts = [event for name, event in stage.events if name == "channel.subscription.gift"]
    assert [event["total"] for event in gifts] == [5, 10, 3] and gifts[2]["user_id"] is None  # anonymous
    assert len(stage.submitted) == 5 and stage.submitted[0] == ("http://127.0.0.1:9/twitch_chat/submit/t0",
                                                               "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert player.finished and player.status()["counts"]["submitted"] == 5
    assert "Anna" not in stage.users and "anonymous" not in stage.users  # not Twitch accounts
    assert stage.viewers[0] is not None and stage.viewers[-1] is None  # offline after stream.offline


def test_viewer_curves_rise_to_their_peak_and_fall():
    scenario = scenarios.load()
    totals = [sum(stream.viewers.at(second) for stream in scenario.youtube) for second in range(0, 1801, 15)]
    peak = max(totals)
    assert totals[0] < peak / 10 and totals[-1] < peak / 3
    expected = sum(stream.viewers.at(1300) for stream in scenario.youtube)
    assert abs(peak - expected) / peak < 0.15  # the three streams together peak around minute 21


@pytest.mark.parametrize(("data", "message"), [
    ([], "a JSON object"),
    ({"duration": 0, "timeline": []}, "duration"),
    ({"duration": 60, "timeline": [{"at": 1, "user": "x"}]}, "timeline[0]: exactly one of event, chat, reco"),
    ({"duration": 60, "timeline": [{"at": -1, "chat": "hi", "user": "x"}]}, "timeline[0].at"),
    ({"duration": 60, "timeline": [{"at": 1, "chat": "hi"}]}, "timeline[0].user"),
    ({"duration": 60, "timeline": [], "youtube": [{"video_id": "abc", "viewers": [[0]]}]}, "youtube[0].viewers"),
])
def test_a_bad_scenario_is_refused_with_what_to_fix(data, message):
    with pytest.raises(scenarios.ScenarioError) as err:
        scenarios.parse(data, "mine.json")
    assert message in str(err.value) and str(err.value).startswith("mine.json")


def test_a_scenario_file_that_is_not_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{nope")
    with pytest.raises(scenarios.ScenarioError, match="broken.json: not JSON"):
        scenarios.load(path)


class Receiver(BaseHTTPRequestHandler):
    """A webhook callback as WaddleBot's: answers the challenge, keeps verified notifications."""

    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not verify_signature(WEBHOOK_SECRET, self.headers["Twitch-Eventsub-Message-Id"],
                                self.headers["Twitch-Eventsub-Message-Timestamp"], body,
                                self.headers["Twitch-Eventsub-Message-Signature"]):
            self.send_response(403)
            self.end_headers()
            return
        payload = json.loads(body)
        answer = payload.get("challenge", "").encode()
        if not answer:
            self.received.append({"type": self.headers["Twitch-Eventsub-Subscription-Type"], **payload})
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/twitch_webhooks/webhook", Receiver.received
    server.shutdown()
    server.server_close()


def test_the_sandbox_delivers_signed_webhooks_to_subscriptions_and_serves_the_viewer_curves(receiver):
    callback, received = receiver
    clock = Clock(500.0)
    sandbox = Sandbox(scenarios.load(), speed=100, clock=clock)
    try:
        settings = sandbox.settings()
        token = requests.post(f"{settings['TWITCH_ID_URL']}/token", timeout=5, data={
            "client_id": settings["TWITCH_APP_ID"], "client_secret": settings["TWITCH_APP_SECRET"],
            "grant_type": "client_credentials"}).json()["access_token"]
        headers = {"Client-Id": settings["TWITCH_APP_ID"], "Authorization": f"Bearer {token}"}
        for event_type in ("channel.follow", "channel.cheer", "channel.raid"):
            condition = {"to_broadcaster_user_id": "1001"} if event_type == "channel.raid" else {
                "broadcaster_user_id": "1001"}
            created = requests.post(f"{settings['TWITCH_HELIX_URL']}/eventsub/subscriptions", headers=headers,
                                    timeout=5, json={"type": event_type, "version": "1", "condition": condition,
                                                     "transport": {"method": "webhook", "callback": callback,
                                                                   "secret": WEBHOOK_SECRET}})
            assert created.status_code == 202
        wait_until(sandbox.verified)
        assert not sandbox.ready()  # no chat bot in the channel yet
        assert not sandbox.status()["scenario"]["started"]
        sandbox.player.start()
        clock.now += 13  # 1300 scenario seconds: around the co-streams' peak
        sandbox.player.tick()
        youtube = YouTubeDataApi(settings["YOUTUBE_API_URL"], settings["YT_API_KEY"])
        live = youtube.videos(["sbxCoStrmA1", "sbxCoStrmB2", "sbxCoStrmC3"])
        assert [live[video].viewers for video in sorted(live)] == [
            stream.viewers.at(1300) for stream in sorted(sandbox.player.scenario.youtube, key=lambda s: s.video_id)]
        types = [item["type"] for item in received]
        assert types.count("channel.cheer") == 3 and "channel.raid" in types and types.count("channel.follow") == 10
        assert {item["event"]["broadcaster_user_id"] for item in received if item["type"] != "channel.raid"} == {
            "1001"}
        status = sandbox.status()["scenario"]
        assert status["counts"]["undelivered"] > 0  # subscribe, gift… have no subscription here
        assert status["log"][0]["at"] <= 1300
    finally:
        sandbox.stop()


def test_the_readme_example_is_a_valid_scenario():
    readme = (scenarios.DEFAULT.parents[3] / "README.md").read_text()
    example = readme.split("A scenario is a small JSON file", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    scenario = scenarios.parse(json.loads(example), "README")
    assert [entry.action for entry in scenario.timeline] == ["event", "event", "event", "chat", "reco",
                                                             "youtube_chat"]
    assert scenario.youtube[0].viewers.peak == 900


def test_viewers_chat_reaches_a_bot_subscribed_over_eventsub_and_its_answers_come_back_through_helix():
    """The sandbox bot's user token subscribes its EventSub session to the channel's chat: a
    viewer's line arrives as channel.chat.message, the answer goes out by Send Chat Message."""
    sandbox = Sandbox(scenarios.load(), clock=Clock(500.0))
    try:
        settings = sandbox.settings()
        assert settings["CHAT_TRANSPORT"] != "irc"
        token = sandbox.id.issue(BOT.id, ("user:read:chat", "user:write:chat")).access
        headers = {"Client-Id": settings["TWITCH_APP_ID"], "Authorization": f"Bearer {token}"}
        with connect(settings["TWITCH_EVENTSUB_WS_URL"]) as socket:
            session = json.loads(socket.recv(timeout=5))["payload"]["session"]["id"]
            created = requests.post(f"{settings['TWITCH_HELIX_URL']}/eventsub/subscriptions", headers=headers,
                                    timeout=5, json={"type": "channel.chat.message", "version": "1",
                                                     "condition": {"broadcaster_user_id": "1001", "user_id": BOT.id},
                                                     "transport": {"method": "websocket", "session_id": session}})
            assert created.status_code == 202
            assert sandbox.status()["chat_channels"] == ["waddle_streamer"]
            stage = sandbox.player.stage
            assert stage.chat("waddle_streamer", stage.user("krill_kim"), "!reco hi") == 1
            message = json.loads(socket.recv(timeout=5))
            while message["metadata"]["message_type"] != "notification":  # keepalives may come first
                message = json.loads(socket.recv(timeout=5))
        event = message["payload"]["event"]
        assert (message["payload"]["subscription"]["type"], event["chatter_user_login"], event["message"]["text"]) \
            == ("channel.chat.message", "krill_kim", "!reco hi")
        answer = requests.post(f"{settings['TWITCH_HELIX_URL']}/chat/messages", headers=headers, timeout=5, json={
            "broadcaster_id": "1001", "sender_id": BOT.id, "message": "@krill_kim http://x/r/1",
            "reply_parent_message_id": event["message_id"]})
        assert answer.status_code == 200 and answer.json()["data"][0]["is_sent"] is True
        assert stage.bot_messages() == ["@krill_kim http://x/r/1"]
    finally:
        sandbox.stop()
