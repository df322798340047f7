"""The chat client against a small fake Twitch IRC WebSocket server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from modules.sandbox.irc import FakeChat
from modules.twitch.chat_client import ChatAuthError, ChatClient, TwitchChatListener, channel_name
from modules.twitch.reconnect import exponential_backoff
from tests.waiting import Clock, wait_until


def run_coroutine(factory):
    """asyncio.run in a thread of its own: Playwright's sync API may own this thread's loop."""
    outcome = {}

    def run():
        try:
            outcome["value"] = asyncio.run(asyncio.wait_for(factory(), 5))
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]



@pytest.fixture
def twitch():
    server = FakeChat(moderated={"modded"})
    yield server
    server.close()


class Running:
    """A ChatClient running in a thread, stopped at the end of the test."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.client.run(self.stop)
        except BaseException as err:
            self.error = err

    def close(self):
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def start(twitch):
    running = []

    def start_client(token="good", **options) -> ChatClient:
        options.setdefault("backoff", lambda attempt: 0.01)
        options.setdefault("min_connect_interval", 0.01)
        client = ChatClient("WaddleBot", lambda: token, url=twitch.url, tick=0.02, **options)
        running.append(Running(client))
        return client

    yield start_client
    for item in running:
        item.close()


def test_logs_in_with_capabilities_pass_and_nick_then_joins(twitch, start):
    states = []
    client = start(on_state=lambda state, detail: states.append(state))
    client.join("#SomeStreamer")
    wait_until(lambda: client.joined == {"somestreamer"})
    assert twitch.received[:4] == ["CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership",
                                   "PASS oauth:good", "NICK waddlebot", "JOIN #somestreamer"]
    assert states[:2] == ["connecting", "connected"] and client.state == "connected"


def test_a_token_given_with_the_oauth_prefix_is_sent_once_prefixed(twitch, start):
    start(token="oauth:good")
    wait_until(lambda: twitch.logins == 1)
    assert "PASS oauth:good" in twitch.received


def test_answers_ping_with_pong(twitch, start):
    start()
    wait_until(lambda: twitch.logins == 1)
    twitch.send("PING :tmi.twitch.tv")
    wait_until(lambda: "PONG :tmi.twitch.tv" in twitch.received)


def test_reconnect_opens_a_new_connection_and_joins_again_without_backoff(twitch, start):
    delays = []
    client = start(backoff=lambda attempt: delays.append(attempt) or 0.01)
    client.set_channels(["one", "two"])
    wait_until(lambda: client.joined == {"one", "two"})
    twitch.send(":tmi.twitch.tv RECONNECT")
    wait_until(lambda: twitch.ended == 1)  # the old connection is closed once the new one has joined
    assert twitch.logins == 2 and client.joined == {"one", "two"}
    assert sorted(twitch.lines("JOIN")) == ["JOIN #one", "JOIN #one", "JOIN #two", "JOIN #two"]
    assert delays == []


def test_after_reconnect_the_old_connection_is_read_until_the_new_one_has_joined(twitch, start):
    """Old code stopped reading the old connection at RECONNECT: chat sent there meanwhile was lost."""
    received = []
    client = start(on_message=lambda message: received.append(message))
    client.join("streamer")
    wait_until(lambda: client.joined == {"streamer"})
    old = twitch.connections[0]
    twitch.later_joins.clear()  # the new connection's JOIN is answered only when the test says
    old.send(":tmi.twitch.tv RECONNECT")
    wait_until(lambda: len(twitch.connections) == 2 and "JOIN #streamer" in twitch.received[-1:])
    said = "@id=abc-1 :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #streamer :!reco https://example.test"
    old.send(said)
    twitch.connections[1].send(said)  # both connections carry it once the new one joined
    wait_until(lambda: any(message.command == "PRIVMSG" for message in received))
    twitch.later_joins.set()
    wait_until(lambda: twitch.ended == 1)
    assert [message.text for message in received if message.command == "PRIVMSG"] == ["!reco https://example.test"]
    assert client.joined == {"streamer"}


def test_a_server_answering_every_login_with_reconnect_is_retried_with_growing_backoff(twitch, start):
    """Old code logged in again at once after each RECONNECT: 632 logins in 10 s against such a server."""
    delays = []
    twitch.reconnect_at_login = True
    client = start(backoff=lambda attempt: delays.append(attempt) or 0.01)
    client.join("streamer")
    wait_until(lambda: len(delays) >= 3)
    assert delays[:3] == [0, 1, 2]


def test_at_most_one_login_per_minimum_interval(twitch, start):
    clock = Clock(1000.0)
    start(clock=clock, min_connect_interval=2.0)
    wait_until(lambda: twitch.logins == 1)
    twitch.send(":tmi.twitch.tv RECONNECT", "PING :one")
    wait_until(lambda: "PONG :one" in twitch.received)
    twitch.send("PING :two")  # handled one loop later: the client has decided whether to connect
    wait_until(lambda: "PONG :two" in twitch.received)
    assert len(twitch.connections) == 1
    clock.now += 2.0
    wait_until(lambda: twitch.logins == 2)


def test_a_dropped_socket_reconnects_with_backoff_and_rejoins(twitch, start):
    delays, states = [], []
    client = start(backoff=lambda attempt: delays.append(attempt) or 0.01,
                   on_state=lambda state, detail: states.append((state, detail)))
    client.join("streamer")
    wait_until(lambda: client.joined == {"streamer"})
    twitch.drop()
    wait_until(lambda: twitch.logins == 2 and client.joined == {"streamer"})
    assert delays == [0]
    assert any(state == "reconnecting" and "reconnecting in" in detail for state, detail in states)
    twitch.drop()
    wait_until(lambda: twitch.logins == 3)
    assert delays == [0, 0]  # a successful login resets the backoff


def test_refused_connections_back_off_exponentially(start):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    delays = []
    client = ChatClient("bot", lambda: "good", url=f"ws://127.0.0.1:{port}",
                        backoff=lambda attempt: delays.append(attempt) or 0.001, min_connect_interval=0.001)
    running = Running(client)
    wait_until(lambda: len(delays) >= 4)
    running.close()
    assert delays[:4] == [0, 1, 2, 3]


def test_exponential_backoff_doubles_with_jitter_and_is_capped():
    for attempt, ceiling in [(0, 1), (1, 2), (3, 8), (5, 32), (6, 60), (20, 60)]:
        delays = [exponential_backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1


def test_a_rejected_token_is_refreshed_once_and_the_login_retried(twitch, start):
    refreshed = []
    client = start(token="expired", on_auth_failed=lambda: refreshed.append(1) or "good")
    wait_until(lambda: client.state == "connected")
    assert refreshed == [1]
    assert [line for line in twitch.received if line.startswith("PASS")] == ["PASS oauth:expired", "PASS oauth:good"]


def test_a_token_rejected_after_the_refresh_is_a_clear_error(twitch):
    refreshed, states = [], []
    client = ChatClient("bot", lambda: "expired", url=twitch.url, tick=0.02,
                        on_auth_failed=lambda: refreshed.append(1) or "still-bad",
                        on_state=lambda state, detail: states.append((state, detail)))
    with pytest.raises(ChatAuthError, match="rejected the token of bot .*log the bot account in again"):
        client.run(threading.Event())
    assert refreshed == [1]
    assert states[-1][0] == "needs_reauth" and client.state == "needs_reauth"


def test_without_a_refresh_a_rejected_token_fails_at_once(twitch):
    client = ChatClient("bot", lambda: "expired", url=twitch.url, on_auth_failed=lambda: None, tick=0.02)
    with pytest.raises(ChatAuthError):
        client.run(threading.Event())
    assert len(twitch.lines("PASS")) == 1


def test_at_most_20_joins_per_10_seconds(twitch, start):
    clock = Clock(1000.0)
    client = start(clock=clock)
    channels = [f"channel{index:02d}" for index in range(25)]
    client.set_channels(channels)
    wait_until(lambda: len(client.joined) == 20)
    time.sleep(0.1)
    assert len(twitch.lines("JOIN")) == 20
    clock.now += 10
    wait_until(lambda: client.joined == set(channels))


def test_parting_a_channel(twitch, start):
    client = start()
    client.set_channels(["one", "two"])
    wait_until(lambda: client.joined == {"one", "two"})
    client.part("two")
    wait_until(lambda: client.joined == {"one"})
    assert "PART #two" in twitch.received and client.channels == {"one"}


def test_replies_carry_the_parent_message_id(twitch, start):
    client = start()
    client.join("streamer")
    wait_until(lambda: client.joined == {"streamer"})
    client.say("streamer", "thanks!", reply_to="885196de-cb67")
    client.say("streamer", "line\r\nPRIVMSG #other :injected")
    wait_until(lambda: len(twitch.lines("PRIVMSG")) == 1)
    assert twitch.lines("PRIVMSG")[0] == "@reply-parent-msg-id=885196de-cb67 PRIVMSG #streamer :thanks!"


def test_messages_wait_for_the_join_and_one_second_between_messages_when_not_moderator(twitch, start):
    clock = Clock(1000.0)
    client = start(clock=clock)
    client.say("streamer", "first")
    client.say("streamer", "second")
    client.join("streamer")
    wait_until(lambda: len(twitch.lines("PRIVMSG")) == 1)
    time.sleep(0.1)
    assert len(twitch.lines("PRIVMSG")) == 1 and not client.is_moderator("streamer")
    clock.now += 1
    wait_until(lambda: twitch.lines("PRIVMSG") == ["PRIVMSG #streamer :first", "PRIVMSG #streamer :second"])


def test_at_most_20_messages_per_30_seconds_when_not_moderator(twitch, start):
    clock = Clock(1000.0)
    client = start(clock=clock)
    channels = [f"c{index:02d}" for index in range(21)]
    client.set_channels(channels)
    wait_until(lambda: len(client.joined) == 20)
    clock.now += 10
    wait_until(lambda: client.joined == set(channels))
    for channel in channels:
        client.say(channel, "hello")
    wait_until(lambda: len(twitch.lines("PRIVMSG")) == 20)
    time.sleep(0.1)
    assert len(twitch.lines("PRIVMSG")) == 20
    clock.now += 30
    wait_until(lambda: len(twitch.lines("PRIVMSG")) == 21)


def test_100_messages_per_30_seconds_without_gap_as_moderator(twitch, start):
    clock = Clock(1000.0)
    client = start(clock=clock)
    client.join("modded")
    wait_until(lambda: client.is_moderator("modded"))
    for index in range(105):
        client.say("modded", f"message {index}")
    wait_until(lambda: len(twitch.lines("PRIVMSG")) == 100)
    time.sleep(0.1)
    assert len(twitch.lines("PRIVMSG")) == 100
    clock.now += 30
    wait_until(lambda: len(twitch.lines("PRIVMSG")) == 105)
    assert twitch.lines("PRIVMSG")[-1] == "PRIVMSG #modded :message 104"


def test_malformed_lines_and_failing_handlers_do_not_stop_the_client(twitch, start, caplog):
    seen = []

    def handler(message):
        if message.command == "BOOM":
            raise RuntimeError("handler bug")
        seen.append(message.command)

    start(on_message=handler)
    wait_until(lambda: twitch.logins == 1)
    twitch.send(":tmi.twitch.tv", "BOOM", ":v!v@v PRIVMSG #c :still here")
    wait_until(lambda: "PRIVMSG" in seen)
    assert "ignored a malformed line" in caplog.text and "handler failed on BOOM" in caplog.text


def test_the_token_never_reaches_the_logs(twitch, start, caplog):
    caplog.set_level("DEBUG", logger="modules.twitch.chat_client")
    start(token="very-secret-token")
    wait_until(lambda: "PASS oauth:very-secret-token" in twitch.received)
    assert "very-secret-token" not in caplog.text


def test_channel_names_are_validated():
    assert channel_name(" #Some_Streamer ") == "some_streamer"
    with pytest.raises(ValueError, match="not a Twitch channel name"):
        channel_name("#bad name")


def test_the_listener_needs_credentials(monkeypatch):
    monkeypatch.delenv("TWITCH_USERNAME", raising=False)
    monkeypatch.delenv("TWITCH_OAUTH_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TWITCH_USERNAME and TWITCH_OAUTH_TOKEN"):
        TwitchChatListener(channel="streamer")


def _first_commands(twitch, listener: TwitchChatListener, count: int, *names: str) -> list:
    """The first `count` commands watch_commands(*names) yields, while the fake Twitch sends chat."""

    async def iterate():
        commands = []
        async for command in listener.watch_commands(*names):
            commands.append(command)
            if len(commands) == count:
                return commands
        return commands

    def chat_when_joined():
        wait_until(lambda: listener.client.joined == {"streamer"})
        twitch.send(":v!v@v.tmi.twitch.tv PRIVMSG #streamer :just chatting",
                    ":other!other@other.tmi.twitch.tv PRIVMSG #streamer :!hello",
                    "@display-name=Viewer;id=m1 :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #streamer :!reco a song",
                    ":other!other@other.tmi.twitch.tv PRIVMSG #streamer :!Hello there",
                    ":third!third@third.tmi.twitch.tv PRIVMSG #streamer :!RECO another")

    threading.Thread(target=chat_when_joined, daemon=True).start()
    return run_coroutine(iterate)


@pytest.fixture
def listener(twitch, monkeypatch):
    monkeypatch.setenv("TWITCH_USERNAME", "waddlebot")
    monkeypatch.setenv("TWITCH_OAUTH_TOKEN", "oauth:good")
    monkeypatch.setenv("TWITCH_IRC_URL", twitch.url)
    return TwitchChatListener(channel="#Streamer", tick=0.02)


def test_the_listener_yields_only_reco_by_default_as_the_seed_loop_expects(twitch, listener):
    commands = _first_commands(twitch, listener, 2)
    assert [(command.name, command.user, command.comment) for command in commands] == [
        ("reco", "viewer", "a song"), ("reco", "third", "another")]
    assert commands[0].display_name == "Viewer"


def test_the_listener_yields_the_commands_it_is_asked_for(twitch, listener):
    commands = _first_commands(twitch, listener, 2, "!hello")
    assert [(command.name, command.user, command.comment) for command in commands] == [
        ("hello", "other", ""), ("hello", "other", "there")]


def test_the_listener_takes_a_list_of_names_not_one_string():
    with pytest.raises(TypeError, match="list of names"):
        TwitchChatListener(channel="streamer", username="bot", oauth_token="t", commands="reco")


def test_the_listener_imports_from_the_twitch_package():
    from modules.twitch import TwitchChatListener as exported

    assert exported is TwitchChatListener


def test_the_listener_raises_when_the_token_is_rejected(twitch):
    listener = TwitchChatListener(channel="streamer", username="bot", oauth_token="bad", url=twitch.url, tick=0.02)

    async def iterate():
        async for _ in listener.watch_commands():
            pass

    with pytest.raises(ChatAuthError):
        run_coroutine(iterate)


def test_the_listener_reads_and_answers_over_eventsub(monkeypatch):
    from modules.sandbox.eventsub_ws import FakeEventSub, ws_subscription
    from modules.sandbox.helix import FakeHelix

    eventsub, helix = FakeEventSub(), FakeHelix().start()
    try:
        helix.user_token("good", "999", "user:read:chat", "user:write:chat")
        helix.user("999", "waddlebot")
        helix.user("1337", "streamer")
        monkeypatch.setenv("TWITCH_HELIX_URL", helix.url)
        monkeypatch.setenv("TWITCH_ID_URL", helix.url.removesuffix("/helix") + "/oauth2")
        monkeypatch.setenv("TWITCH_EVENTSUB_WS_URL", eventsub.url)
        listener = TwitchChatListener(channel="#Streamer", oauth_token="oauth:good", transport="auto")
        assert listener.transport == "eventsub"

        async def first_command():
            async for command in listener.watch_commands():
                return command

        def chat_when_subscribed():
            connection = eventsub.next_connection()
            connection.welcome("s-1")
            wait_until(lambda: helix.subscriptions)
            event = {"broadcaster_user_id": "1337", "broadcaster_user_login": "streamer", "chatter_user_id": "42",
                     "chatter_user_login": "viewer", "chatter_user_name": "Viewer", "message_id": "m-1",
                     "message": {"text": "!reco a song"}, "badges": []}
            connection.notify(ws_subscription("channel.chat.message", "1", helix.subscriptions[0]["condition"]),
                              event)

        threading.Thread(target=chat_when_subscribed, daemon=True).start()
        command = run_coroutine(first_command)
        assert (command.name, command.user, command.comment, command.message.id) == ("reco", "viewer", "a song", "m-1")
        [subscription] = helix.subscriptions
        assert subscription["condition"] == {"broadcaster_user_id": "1337", "user_id": "999"}
        connected_at = subscription["transport"].pop("connected_at")  # Twitch adds it to a WebSocket transport
        assert connected_at and subscription["transport"] == {"method": "websocket", "session_id": "s-1"}
        result = listener.client.say("streamer", "thanks!", reply_to="m-1")
        assert result.is_sent
        assert helix.sent[-1] == {"broadcaster_id": "1337", "sender_id": "999", "message": "thanks!",
                                  "reply_parent_message_id": "m-1", "is_sent": True, "app_token": False}
    finally:
        eventsub.stop()
        helix.close()


def test_auto_uses_irc_when_the_token_lacks_the_chat_scopes(monkeypatch):
    from modules.sandbox.helix import FakeHelix

    helix = FakeHelix().start()
    try:
        helix.user_token("good", "999", "chat:read", "chat:edit")
        monkeypatch.setenv("TWITCH_ID_URL", helix.url.removesuffix("/helix") + "/oauth2")
        listener = TwitchChatListener(channel="streamer", username="bot", oauth_token="good", transport="auto")
        assert listener.transport == "irc" and isinstance(listener.client, ChatClient)
    finally:
        helix.close()
