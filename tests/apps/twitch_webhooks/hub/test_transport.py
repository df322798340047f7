"""The EventSub WebSocket transport end to end: a fake EventSub server on 127.0.0.1, a mocked Helix,
and the real storage (events, activities, subscriptions)."""

from __future__ import annotations

import threading

import pytest
import responses

from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub.transport import BotTransport, TransportManager
from modules.sandbox.eventsub_ws import FakeEventSub
from tests.apps.twitch_webhooks.hub.fakes import (
    BOT_USER_ID,
    BROADCASTER,
    hub_settings,
    make_account,
    make_bot,
    make_interest,
    twitch_subscriptions,
)
from tests.modules.twitch.test_eventsub_ws import WAIT
from tests.waiting import wait_until

FOLLOW_EVENT = {"user_id": "42", "user_login": "fan", "user_name": "Fan", "broadcaster_user_id": BROADCASTER,
                "broadcaster_user_login": "streamer", "broadcaster_user_name": "Streamer",
                "followed_at": "2024-01-01T00:00:00Z"}
FAST = {"backoff": lambda attempt: 0.01, "keepalive_grace": 0.1, "tick_interval": 0.05}


def fresh(db, table) -> int:
    db.rollback()  # see what the transport's threads committed
    return db(table).count()


@pytest.fixture
def eventsub():
    server = FakeEventSub()
    yield server
    server.stop()


@pytest.fixture
def world(configure, db, eventsub):
    """A bot, a service with two interests, Twitch's subscription endpoints."""
    hub_settings(configure, TWITCH_EVENTSUB_WS_URL=eventsub.url, EVENTSUB_KEEPALIVE_SECONDS="10")
    make_bot(db)
    account = make_account(db)[0]
    make_interest(db, account, "channel.follow")
    make_interest(db, account, "stream.online")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield twitch_subscriptions(mock), account


@pytest.fixture
def run_in_thread():
    stop = threading.Event()
    threads = []

    def start(target):
        thread = threading.Thread(target=target, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()


@pytest.fixture
def transport(world, run_in_thread):
    bot = BotTransport("main", **FAST)
    run_in_thread(bot.run)
    return bot


def follow_subscription(twitch) -> dict:
    return next(sub for sub in twitch.by_id().values() if sub["type"] == "channel.follow")


def welcomed(eventsub, twitch, session_id: str, count: int = 2):
    """The next connection, welcomed; returns it once `count` subscriptions exist on the session."""
    connection = eventsub.next_connection()
    connection.welcome(session_id)
    wait_until(lambda: len([body for body in twitch.created if body["transport"]["session_id"] == session_id])
             == count)
    return connection


def test_welcome_creates_the_subscriptions_on_the_session(eventsub, world, transport, db):
    twitch, _ = world
    connection = eventsub.next_connection()
    assert connection.path == "/ws?keepalive_timeout_seconds=10"
    connection.welcome("session-1")
    wait_until(lambda: len(twitch.created) == 2)
    follow = next(body for body in twitch.created if body["type"] == "channel.follow")
    assert follow == {"type": "channel.follow", "version": "2", "transport": {"method": "websocket",
                                                                              "session_id": "session-1"},
                      "condition": {"broadcaster_user_id": BROADCASTER, "moderator_user_id": BOT_USER_ID}}
    wait_until(lambda: fresh(db, db.hub_subscription.status == "enabled") == 2)
    session = db(db.eventsub_ws_session).select().first()
    assert (session.bot_name, session.state, session.session_id) == ("main", "connected", "session-1")


def test_notifications_take_the_webhook_path_once(eventsub, world, transport, db):
    twitch, _ = world
    connection = welcomed(eventsub, twitch, "session-1")
    subscription = follow_subscription(twitch)
    message_id = connection.notify(subscription, FOLLOW_EVENT)
    connection.notify(subscription, FOLLOW_EVENT, message_id=message_id)
    wait_until(lambda: fresh(db, db.activity) == 1)
    event = db(db.eventsub_event).select().first()
    assert (event.message_id, event.transport, event.event_type, event.subscription_id) == (
        message_id, "websocket", "channel.follow", subscription["id"])
    activity = db(db.activity).select().first()
    assert (activity.activity_type, activity.points, activity.user_login) == ("channel.follow", 10, "fan")
    assert db(db.outbox.activity_id == activity.id).count() == 1
    assert fresh(db, db.eventsub_event) == 1


def test_keepalive_timeout_reconnects_and_subscribes_again(eventsub, world, transport, db):
    twitch, _ = world
    first = eventsub.next_connection()
    first.welcome("session-1", keepalive=0.3)
    wait_until(lambda: len(twitch.created) == 2)
    old_ids = set(twitch.by_id())
    welcomed(eventsub, twitch, "session-2")
    assert first.closed.wait(WAIT)
    wait_until(lambda: sorted(twitch.deleted) == sorted(old_ids))  # ours, on the dead session
    wait_until(lambda: fresh(db, db.hub_subscription.session_id == "session-2") == 2)


def test_session_reconnect_carries_subscriptions_over_without_loss_or_duplicate(eventsub, world, transport, db):
    twitch, _ = world
    old = welcomed(eventsub, twitch, "session-1")
    subscription = follow_subscription(twitch)
    events = [dict(FOLLOW_EVENT, user_id=str(n), user_login=f"fan{n}") for n in range(4)]
    ids = [old.notify(subscription, events[0])]
    old.reconnect(eventsub.url + "?reconnect=1")
    new = eventsub.next_connection()
    ids.append(old.notify(subscription, events[1]))
    new.welcome("session-1")
    assert old.closed.wait(WAIT)
    ids.append(new.notify(subscription, events[2]))
    new.notify(subscription, events[1], message_id=ids[1])  # Twitch resends what was in flight
    ids.append(new.notify(subscription, events[3]))
    wait_until(lambda: fresh(db, db.eventsub_event) == 4)
    assert [row.message_id for row in db(db.eventsub_event).select(orderby=db.eventsub_event.id)] == ids
    assert len(twitch.created) == 2  # carried over, not created again
    assert twitch.deleted == []


def test_revocation_marks_the_subscription_revoked(eventsub, world, transport, db):
    twitch, _ = world
    connection = welcomed(eventsub, twitch, "session-1")
    revoked = {**follow_subscription(twitch), "status": "authorization_revoked"}
    connection.revoke(revoked)
    wait_until(lambda: fresh(db, db.eventsub_subscription.status == "revoked") == 1)
    row = db(db.eventsub_subscription.twitch_id == revoked["id"]).select().first()
    assert row.revoked_reason == "authorization_revoked"
    assert db(db.hub_subscription.twitch_id == revoked["id"]).select().first().status == "revoked"


@pytest.mark.parametrize("code", [4003, 4007])
def test_close_codes_reconnect_fresh_and_subscribe_again(eventsub, world, transport, code):
    twitch, _ = world
    welcomed(eventsub, twitch, "session-1").close(code)
    welcomed(eventsub, twitch, "session-2")


def test_interests_added_and_deleted_later_follow_on_the_next_tick(eventsub, world, transport, db):
    twitch, account = world
    welcomed(eventsub, twitch, "session-1")
    interest, _ = make_interest(db, account, "stream.offline")
    wait_until(lambda: len(twitch.created) == 3)
    hub_interests.delete_interest(db, account.id, interest["interest_id"])
    db.commit()
    wait_until(lambda: len(twitch.deleted) == 1)
    assert all(sub["type"] != "stream.offline" for sub in twitch.by_id().values())


def test_the_manager_connects_only_while_interests_need_a_bot(configure, db, eventsub, run_in_thread):
    hub_settings(configure, TWITCH_EVENTSUB_WS_URL=eventsub.url)
    make_bot(db)
    account = make_account(db)[0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        twitch = twitch_subscriptions(mock)
        run_in_thread(TransportManager(poll_seconds=0.05, **FAST).run)
        assert eventsub.no_connection_within(0.3)
        interest, _ = make_interest(db, account, "stream.online")
        connection = eventsub.next_connection()
        connection.welcome("session-1")
        wait_until(lambda: len(twitch.created) == 1)
        hub_interests.delete_interest(db, account.id, interest["interest_id"])
        db.commit()
        wait_until(lambda: twitch.by_id() == {})
        assert connection.closed.wait(WAIT)
        wait_until(lambda: fresh(db, db.eventsub_ws_session) == 0)
