"""Chat over EventSub against fake Twitch servers on 127.0.0.1 (EventSub WebSocket and Helix):
the transport choice, !reco end to end, Send Chat Message drops, chat events, and dedup of a
message that both transports bring."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY

from apps.twitch_chat import chat_events, health, workers
from modules.sandbox.eventsub_ws import FakeEventSub, ws_subscription
from modules.sandbox.helix import FakeHelix
from modules.sandbox.irc import FakeChat
from modules.twitch.commands import FakeChatBackend
from modules.twitch.eventsub_chat import CHAT_TYPES
from modules.twitch.irc import ChatMessage, parse
from shared.db import transaction
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, store_bot
from tests.apps.twitch_chat.test_workers import add_channel, run, status_row  # noqa: F401 (fixture)
from tests.waiting import wait_until

BOT_ID, BROADCASTER = "999", "1337"


@pytest.fixture
def eventsub():
    server = FakeEventSub()
    yield server
    server.stop()


@pytest.fixture
def helix():
    server = FakeHelix(client_id=CLIENT_ID, client_secret="secret").start()
    server.user_token("bot-access-0001", BOT_ID, "user:read:chat", "user:write:chat")
    yield server
    server.close()


@pytest.fixture
def irc():
    server = FakeChat(tokens=("bot-access-0001",))
    yield server
    server.close()


@pytest.fixture
def chat_bot(db, configure, eventsub, helix, irc):
    configure(TWITCH_APP_ID=CLIENT_ID, TWITCH_APP_SECRET="secret", TWITCH_HELIX_URL=helix.url,
              TWITCH_EVENTSUB_WS_URL=eventsub.url, TWITCH_IRC_URL=irc.url, CHAT_BOT="main", HELIX_MAX_RETRIES="1")
    store_bot(db, name="main", user_id=BOT_ID, login="waddlebot")
    add_channel(db, "streamer", BROADCASTER)


def chat_event(text: str, message_id: str = "msg-1", badges: list | None = None) -> dict:
    return {"broadcaster_user_id": BROADCASTER, "broadcaster_user_login": "streamer",
            "broadcaster_user_name": "Streamer", "chatter_user_id": "42", "chatter_user_login": "viewer",
            "chatter_user_name": "Viewer", "message_id": message_id, "message": {"text": text, "fragments": []},
            "color": "", "badges": badges or [], "message_type": "text", "cheer": None, "reply": None,
            "channel_points_custom_reward_id": None}


def chat_sub(event_type: str = "channel.chat.message") -> dict:
    return ws_subscription(event_type, "1", {"broadcaster_user_id": BROADCASTER, "user_id": BOT_ID})


def welcomed(eventsub, helix):
    """The listener's session, once it subscribed to the channel's chat types."""
    connection = eventsub.next_connection()
    connection.welcome("chat-session")
    wait_until(lambda: len(helix.subscriptions) == len(CHAT_TYPES))
    return connection


def test_reco_over_eventsub_chat_replies_through_send_chat_message(client, db, chat_bot, eventsub, helix, oembed,
                                                                   run):  # noqa: F811
    run(workers.listen)
    connection = welcomed(eventsub, helix)
    assert {sub["type"] for sub in helix.subscriptions} == set(CHAT_TYPES)
    assert all(sub["condition"] == {"broadcaster_user_id": BROADCASTER, "user_id": BOT_ID}
               and sub["transport"].keys() - {"connected_at"} == {"method", "session_id"}
               and sub["transport"]["session_id"] == "chat-session" and sub["transport"]["method"] == "websocket"
               for sub in helix.subscriptions)
    connection.notify(chat_sub(), chat_event("!reco something to cook to"))
    wait_until(lambda: helix.sent)
    [sent] = helix.sent
    assert (sent["broadcaster_id"], sent["sender_id"], sent["reply_parent_message_id"]) == (BROADCASTER, BOT_ID,
                                                                                            "msg-1")
    assert sent["message"].startswith("@Viewer send your YouTube or Spotify link")
    token = re.search(r"/twitch_chat/submit/([A-Za-z0-9_-]+)$", sent["message"]).group(1)
    ticket = client.get(f"/twitch_chat/requests/{token}").json
    assert (ticket["user"], ticket["comment"], ticket["channel"]) == ("Viewer", "something to cook to", "streamer")
    wait_until(lambda: (status_row(db) or {}).get("channels") == ["streamer"])
    state = health.check()
    assert state.status == "ok" and state.data["transport"] == "eventsub"
    assert "over EventSub (auto: the bot granted user:read:chat and user:write:chat)" in state.detail
    assert "irc" not in {method for method, _ in helix.requests}


def test_auto_chooses_irc_when_the_bot_lacks_the_chat_scopes(db, chat_bot, irc, eventsub, run):  # noqa: F811
    with transaction(db):
        db(db.twitch_token.bot_name == "main").update(scopes=["chat:read", "chat:edit"])
    run(workers.listen)
    wait_until(lambda: "JOIN #streamer" in irc.received)
    wait_until(lambda: (status_row(db) or {}).get("channels") == ["streamer"])
    state = health.check()
    assert state.data["transport"] == "irc"
    assert "over IRC (auto: the bot lacks user:read:chat, user:write:chat)" in state.detail
    assert eventsub.no_connection_within(0.1)


def test_a_dropped_message_is_counted_by_reason_and_not_retried(db, chat_bot, eventsub, helix, run,  # noqa: F811
                                                               caplog):
    before = REGISTRY.get_sample_value("waddlebot_chat_messages_dropped_total", {"reason": "msg_duplicate"}) or 0
    helix.drop_next = {"code": "msg_duplicate", "message": "This message is a duplicate."}
    run(workers.listen)
    connection = welcomed(eventsub, helix)
    # another viewer than the other tests': !reco has a per-viewer cooldown in the registry
    connection.notify(chat_sub(), {**chat_event("!reco again"), "chatter_user_id": "43"})
    wait_until(lambda: REGISTRY.get_sample_value("waddlebot_chat_messages_dropped_total",
                                                 {"reason": "msg_duplicate"}) == before + 1)
    assert [sent["is_sent"] for sent in helix.sent] == [False]
    assert helix.requests.count(("POST", "chat/messages")) == 1
    assert "Twitch dropped a message to #streamer (msg_duplicate" in caplog.text


def test_a_moderator_badge_gives_the_moderator_permission(db, chat_bot, eventsub, helix, run):  # noqa: F811
    from apps.twitch_chat.commands import registry
    from modules.twitch.commands import Permission

    @registry.command("modonly_test", permission=Permission.MODERATOR)
    def modonly(command):
        return "mods only"

    try:
        run(workers.listen)
        connection = welcomed(eventsub, helix)
        connection.notify(chat_sub(), chat_event("!modonly_test", "m-viewer"))
        connection.notify(chat_sub(), chat_event("!modonly_test", "m-mod", [{"set_id": "moderator", "id": "1",
                                                                              "info": ""}]))
        wait_until(lambda: helix.sent)
        connection.keepalive()
        assert [(sent["message"], sent["reply_parent_message_id"]) for sent in helix.sent] == [("mods only", "m-mod")]
    finally:
        registry._commands.pop("modonly_test")


def test_the_same_message_runs_its_command_once_over_both_transports(db, chat_bot, monkeypatch):
    line = ("@badges=;display-name=Viewer;id=same-id;room-id=1337;user-id=42 "
            ":viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #streamer :!reco twice?")
    from apps.twitch_chat.commands import registry
    from modules.twitch.eventsub_chat import chat_message_from_event

    # an hour between the registry's looks, and its cooldowns this test's own (the others' are
    # given back afterwards): !reco's per-viewer cooldown never holds the message back, only the dedup can
    hours = iter(range(0, 10**9, 3600))
    monkeypatch.setattr(registry, "clock", lambda: float(next(hours)))
    monkeypatch.setattr(registry, "_used", {})
    backend = FakeChatBackend()
    assert chat_events.run_command(ChatMessage.from_irc(parse(line)), backend, "irc")
    assert not chat_events.run_command(chat_message_from_event(chat_event("!reco twice?", "same-id")), backend,
                                       "eventsub")
    assert len(backend.sent) == 1
    assert db(db.chat_command_seen).select().column("transport") == ["irc"]


def test_chat_events_are_stored_once_and_subs_raids_are_activities(db, chat_bot, eventsub, helix, run):  # noqa: F811
    run(workers.listen)
    connection = welcomed(eventsub, helix)
    base = {"broadcaster_user_id": BROADCASTER, "broadcaster_user_login": "streamer", "broadcaster_user_name": "S",
            "chatter_user_id": "42", "chatter_user_login": "viewer", "chatter_user_name": "Viewer",
            "chatter_is_anonymous": False, "color": "", "badges": [], "system_message": "", "message_id": "n-1",
            "message": {"text": "", "fragments": []}}
    resub = {**base, "notice_type": "resub", "resub": {"cumulative_months": 10, "duration_months": 1,
                                                        "streak_months": 2, "sub_tier": "1000", "is_prime": False,
                                                        "is_gift": False}}
    raid = {**base, "message_id": "n-2", "notice_type": "raid",
            "raid": {"user_id": "77", "user_login": "raider", "user_name": "Raider", "viewer_count": 12}}
    announcement = {**base, "message_id": "n-3", "notice_type": "announcement", "announcement": {"color": "BLUE"}}
    deletion = {"broadcaster_user_id": BROADCASTER, "broadcaster_user_login": "streamer",
                "broadcaster_user_name": "S", "target_user_id": "42", "target_user_login": "viewer",
                "target_user_name": "Viewer", "message_id": "gone-1"}
    first = connection.notify(chat_sub("channel.chat.notification"), resub)
    connection.notify(chat_sub("channel.chat.notification"), resub, message_id=first)  # resent: stored once
    connection.notify(chat_sub("channel.chat.notification"), raid)
    connection.notify(chat_sub("channel.chat.notification"), announcement)
    connection.notify(chat_sub("channel.chat.message_delete"), deletion)
    connection.notify(chat_sub("channel.chat.clear"), {key: deletion[key] for key in list(deletion)[:3]})
    wait_until(lambda: db(db.chat_event).count() == 5 or db.commit())
    rows = db(db.chat_event).select(orderby=db.chat_event.id)
    assert [(row.event_type, row.notice_type, row.user_id) for row in rows] == [
        ("channel.chat.notification", "resub", "42"), ("channel.chat.notification", "raid", "77"),
        ("channel.chat.notification", "announcement", "42"), ("channel.chat.message_delete", None, "42"),
        ("channel.chat.clear", None, None)]
    activities = db(db.activity).select(orderby=db.activity.id)
    assert [(a.activity_type, a.user_id, a.points, a.source) for a in activities] == [
        ("resubscription", "42", 50, "twitch_chat"), ("raid", "77", 30, "twitch_chat")]
    assert activities[0].details["cumulative_months"] == 10 and activities[1].details["viewer_count"] == 12
    assert db(db.outbox.activity_id == activities[0].id).count() == 1


def test_a_transport_switch_mid_stream_runs_each_command_once(db, chat_bot, irc, eventsub, helix, run):  # noqa: F811
    from shared import tokens

    with transaction(db):
        db(db.twitch_token.bot_name == "main").update(scopes=["chat:read", "chat:edit"])
    service = workers.ChatService(tokens.get_bot("main"), refresh_seconds=0.1, irc_options={"tick": 0.02})
    run(service.run)
    wait_until(lambda: "JOIN #streamer" in irc.received)
    irc.send("@badges=;display-name=Early;id=switch-1;room-id=1337;user-id=50 "
             ":early!early@early.tmi.twitch.tv PRIVMSG #streamer :!reco before the switch")
    wait_until(lambda: irc.lines("PRIVMSG"))
    with transaction(db):  # the bot is granted the chat scopes: auto now picks EventSub
        db(db.twitch_token.bot_name == "main").update(scopes=list(tokens.BOT_SCOPES))
    connection = welcomed(eventsub, helix)
    wait_until(lambda: service.listener.transport == "eventsub" and irc.connections[-1].close_code is not None)
    # Twitch brings the first message again on the new transport, then a new one
    connection.notify(chat_sub(), {**chat_event("!reco before the switch", "switch-1"), "chatter_user_id": "50"})
    connection.notify(chat_sub(), {**chat_event("!reco after the switch", "switch-2"), "chatter_user_id": "51"})
    wait_until(lambda: helix.sent)
    connection.keepalive()
    assert [line.split(" ")[0] for line in irc.lines("PRIVMSG")] == ["@reply-parent-msg-id=switch-1"]
    assert [sent["reply_parent_message_id"] for sent in helix.sent] == ["switch-2"]
    wait_until(lambda: (status_row(db) or {}).get("transport") == "eventsub")


def test_a_channel_twitch_refused_is_asked_again_a_minute_later_not_on_every_tick(db, chat_bot, helix):
    from apps.twitch_chat.eventsub_listener import RETRY_REFUSED_SECONDS, EventSubChatListener
    from modules.twitch.eventsub_ws import Session
    from shared import tokens

    now = [1000.0]
    helix.banned.add((BROADCASTER, BOT_ID))
    listener = EventSubChatListener(tokens.get_bot("main"), lambda: {"streamer": BROADCASTER}, clock=lambda: now[0])
    listener._session(Session("chat-session", 10, None, False))  # welcomed: subscribes, Twitch refuses
    posts = helix.requests.count(("POST", "eventsub/subscriptions"))
    assert posts == 1 and listener.joined == set()
    helix.banned.clear()  # unbanned: Twitch would take them now
    now[0] += RETRY_REFUSED_SECONDS - 1
    listener._tick()
    assert helix.requests.count(("POST", "eventsub/subscriptions")) == posts  # not asked on every tick
    now[0] += 1
    listener._tick()
    assert len(helix.subscriptions) == len(CHAT_TYPES) and listener.joined == {"streamer"}
