"""Chat over EventSub with the app token (the bot granted user:bot, the broadcaster channel:bot):
the EventSub module's conduit makes the chat subscriptions twitch_chat declares it consumes and
stores their events; twitch_chat reads them through shared.dispatch and answers with the app token.
Against fake Twitch servers on 127.0.0.1 (Helix and EventSub WebSocket)."""

from __future__ import annotations

import pytest

from apps.twitch_chat import health, workers
from apps.twitch_chat.transport import choose_transport
from apps.twitch_webhooks.conduit.worker import ConduitWorker
from apps.twitch_webhooks.eventsub.store import record_notification
from modules.twitch.eventsub_chat import CHAT_TYPES
from shared import dispatch
from shared.db import transaction, utcnow
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, store_bot
from tests.apps.twitch_chat.test_eventsub_chat import BOT_ID, BROADCASTER, chat_event
from tests.apps.twitch_chat.test_workers import add_channel, run, status_row  # noqa: F401 (fixture)
from tests.apps.twitch_webhooks.conduit.test_conduit import twitch  # noqa: F401 (fixture)
from tests.waiting import Clock, wait_until

APP_PATH_SCOPES = ["chat:read", "chat:edit", "user:bot"]  # no user:read:chat / user:write:chat


def viewer_message(text: str, message_id: str, viewer: str = "142") -> dict:
    """A chat message of a viewer of this file only: !reco has a per-viewer cooldown in the registry."""
    return {**chat_event(text, message_id), "chatter_user_id": viewer}


@pytest.fixture
def app_chat(db, configure, twitch):  # noqa: F811
    configure(TWITCH_APP_ID=CLIENT_ID, TWITCH_APP_SECRET="secret", TWITCH_HELIX_URL=twitch.url,
              TWITCH_ID_URL=twitch.url.removesuffix("/helix") + "/oauth2", HELIX_MAX_RETRIES="1",
              TWITCH_EVENTSUB_WS_URL=twitch.sessions.url, EVENTSUB_TRANSPORT="conduit", CHAT_BOT="main")
    twitch.bot_users.add(BOT_ID)
    store_bot(db, name="main", user_id=BOT_ID, login="waddlebot")
    with transaction(db):
        db(db.twitch_token.bot_name == "main").update(scopes=APP_PATH_SCOPES)
    add_channel(db, "streamer", BROADCASTER)


def chat_subscriptions(helix) -> list[dict]:
    return [sub for sub in helix.subscriptions if sub["type"] in CHAT_TYPES]


def test_auto_takes_the_app_token_path_with_user_bot_and_a_conduit():
    choice = choose_transport("auto", APP_PATH_SCOPES, "conduit")
    assert choice.kind == ("eventsub", "app")
    assert "EventSub with the app token (user:bot + channel:bot) through the conduit" in choice.reason
    websocket = choose_transport("auto", APP_PATH_SCOPES, "websocket")
    assert websocket.transport == "irc" and "needs EVENTSUB_TRANSPORT=conduit or webhook" in websocket.reason
    assert choose_transport("eventsub", APP_PATH_SCOPES, "webhook").kind == ("eventsub", "app")


def test_reco_over_the_conduit_with_the_app_token(client, db, app_chat, twitch, oembed, run):  # noqa: F811
    twitch.bot_channels.add(BROADCASTER)
    run(workers.listen)
    run(ConduitWorker("worker-a", takeover_seconds=0.2).run)
    wait_until(lambda: len(chat_subscriptions(twitch)) == len(CHAT_TYPES), timeout=10)
    assert all(sub["condition"] == {"broadcaster_user_id": BROADCASTER, "user_id": BOT_ID}
               and sub["transport"]["method"] == "conduit" for sub in chat_subscriptions(twitch))
    wait_until(lambda: (status_row(db) or {}).get("status") == "connected")

    twitch.deliver("channel.chat.message", viewer_message("!reco something to cook to", "app-msg-1"))
    wait_until(lambda: twitch.sent, timeout=10)
    [sent] = twitch.sent
    assert sent["app_token"] and (sent["sender_id"], sent["broadcaster_id"]) == (BOT_ID, BROADCASTER)
    assert sent["reply_parent_message_id"] == "app-msg-1"
    assert sent["message"].startswith("@Viewer send your YouTube or Spotify link")
    state = health.check()
    assert state.status == "ok" and state.data["transport"] == "eventsub"
    assert "EventSub with the app token (user:bot + channel:bot) through the conduit" in state.detail

    # Twitch brings the same chat message again (a new EventSub message id): its command ran already
    twitch.deliver("channel.chat.message", viewer_message("!reco something to cook to", "app-msg-1"))
    twitch.deliver("channel.chat.message", viewer_message("!reco another", "app-msg-2", "143"))
    wait_until(lambda: len(twitch.sent) == 2, timeout=10)
    assert [item["reply_parent_message_id"] for item in twitch.sent] == ["app-msg-1", "app-msg-2"]
    assert db(db.chat_command_seen.message_id == "app-msg-1").count() == 1


def test_a_channel_twitch_refuses_is_asked_again_a_minute_later(db, app_chat, twitch):  # noqa: F811
    from apps.twitch_webhooks.conduit import helix as conduit_helix
    from apps.twitch_webhooks.conduit.subscriptions import RETRY_FAILED_SECONDS, ConduitSubscriptions

    conduit = conduit_helix.ensure_conduit()
    clock = Clock(1000.0)
    subscriptions = ConduitSubscriptions(conduit.id, clock=clock)
    subscriptions.ensure()  # the broadcaster has not granted channel:bot: Twitch refuses the chat types
    assert chat_subscriptions(twitch) == []
    refused = twitch.requests.count(("POST", "eventsub/subscriptions"))
    twitch.bot_channels.add(BROADCASTER)  # granted now
    clock.now += RETRY_FAILED_SECONDS - 1
    assert subscriptions.ensure() == 0
    assert twitch.requests.count(("POST", "eventsub/subscriptions")) == refused  # not asked on every look
    clock.now += 1
    assert subscriptions.ensure() == len(CHAT_TYPES)
    assert len(chat_subscriptions(twitch)) == len(CHAT_TYPES)


def test_the_store_publishes_only_the_consumed_types_once(db):
    chat = {"type": "channel.chat.message", "version": "1", "id": "s-1"}
    follow = {"type": "channel.follow", "version": "2", "id": "s-2"}
    with transaction(db):
        feed = dispatch.DispatchFeed.from_latest(db, CHAT_TYPES)
        assert record_notification(db, message_id="e-1", subscription=chat, event=chat_event("hi"),
                                   transport="webhook")
        assert not record_notification(db, message_id="e-1", subscription=chat, event=chat_event("hi"),
                                       transport="conduit")
        record_notification(db, message_id="e-2", subscription=follow, event={"user_id": "1"}, transport="webhook")
    with transaction(db):
        rows = feed.poll(db)
    assert [(row.message_id, row.event_type, row.event["message"]["text"]) for row in rows] == [
        ("e-1", "channel.chat.message", "hi")]
    assert db(db.dispatched_event).count() == 1
    with transaction(db):
        dispatch.prune(db, utcnow() + dispatch.KEEP + dispatch.KEEP)
    assert db(db.dispatched_event).count() == 0



def test_webhook_transport_makes_the_chat_subscriptions_and_their_events_reach_the_chat_bot(
        client, db, app_chat, configure, twitch, oembed, run):  # noqa: F811
    from apps.twitch_webhooks.eventsub.webhook_subscriptions import WebhookSubscriptions, callback_problem
    from modules.twitch.eventsub import NOTIFICATION, signed_message

    secret = "webhook-secret-0123456789"
    configure(EVENTSUB_TRANSPORT="webhook", TWITCH_WEBHOOK_SECRET=secret, PUBLIC_URL="https://bot.example.org")
    twitch.bot_channels.add(BROADCASTER)
    assert callback_problem() is None
    WebhookSubscriptions().ensure()
    assert len(chat_subscriptions(twitch)) == len(CHAT_TYPES)
    assert {sub["transport"]["method"] for sub in twitch.subscriptions} == {"webhook"}
    assert {sub["transport"]["callback"] for sub in twitch.subscriptions} == {
        "https://bot.example.org/twitch_webhooks/webhook"}
    assert WebhookSubscriptions().ensure() == 0  # made once
    run(workers.listen)
    wait_until(lambda: (status_row(db) or {}).get("status") == "connected")

    [subscription] = [sub for sub in twitch.subscriptions if sub["type"] == "channel.chat.message"]
    payload = {"subscription": subscription, "event": viewer_message("!reco by webhook", "hook-msg-1", "144")}
    headers, body = signed_message(secret, NOTIFICATION, payload)
    client.post("/twitch_webhooks/webhook", params=body, headers=headers, content_type="application/json",
                status=200)
    wait_until(lambda: twitch.sent, timeout=10)
    [sent] = twitch.sent
    assert sent["app_token"] and sent["reply_parent_message_id"] == "hook-msg-1"
    assert "through the webhook (EVENTSUB_TRANSPORT=webhook)" in health.check().detail


def test_webhook_transport_refuses_a_callback_twitch_cannot_reach(configure):
    from apps.twitch_webhooks.eventsub.webhook_subscriptions import callback_problem

    configure(EVENTSUB_TRANSPORT="webhook", PUBLIC_URL="http://127.0.0.1:8000")
    assert "Twitch calls back only https on port 443, and the callback is http://127.0.0.1:8000/" in callback_problem()
