"""The event feed (cursor and late commits), the interest registry and the fan-out rules."""

from __future__ import annotations

import json

import pytest

from apps.twitch_webhooks.eventsub.store import upsert_subscription
from apps.twitch_webhooks.hub import forwarder as hub_forwarder
from apps.twitch_webhooks.hub.forwarder import EventFeed, InterestRegistry, websocket_deliveries
from shared.db import utcnow
from shared.feed import GAP_SECONDS
from tests.apps.twitch_webhooks.hub.fakes import (
    BROADCASTER,
    hub_settings,
    make_account,
    make_bot,
    make_interest,
    store_event,
    subscribe_all,
    twitch_sub,
)
from tests.waiting import Clock


def insert_event(db, event_id: int) -> None:
    db.eventsub_event.insert(id=event_id, message_id=f"m{event_id}", event_type="stream.online", transport="webhook",
                             event={}, received_at=utcnow())
    db.commit()


def ids(rows) -> list[int]:
    return [row.id for row in rows]



def test_the_feed_reads_in_id_order_from_its_cursor(db):
    for event_id in (1, 2, 3):
        insert_event(db, event_id)
    feed = EventFeed(1, batch=1)
    assert ids(feed.poll(db)) == [2]
    assert ids(feed.poll(db)) == [3]
    assert ids(feed.poll(db)) == []
    assert EventFeed.from_latest(db).cursor == 3


def test_an_id_committed_late_is_still_delivered_once(db):
    clock = Clock()
    feed = EventFeed(0, clock=clock)
    insert_event(db, 1)
    insert_event(db, 3)  # 2 was given out to a transaction that has not committed yet
    assert ids(feed.poll(db)) == [1, 3]
    assert feed.gaps.keys() == {2}
    insert_event(db, 2)
    assert ids(feed.poll(db)) == [2]
    assert ids(feed.poll(db)) == [] and not feed.gaps


def test_gaps_are_given_up_after_a_while(db):
    clock = Clock()
    feed = EventFeed(0, clock=clock)
    insert_event(db, 2)
    feed.poll(db)
    clock.now = GAP_SECONDS + 1
    feed.poll(db)
    assert not feed.gaps  # a rolled-back id never comes


@pytest.fixture
def linked(configure, db):
    hub_settings(configure)
    make_bot(db)
    make_bot(db, name="second", user_id="888", access="bot-access-0002")
    alerts = make_account(db, "alerts")[0]
    make_interest(db, alerts, "stream.online")
    make_interest(db, alerts, "stream.online", bot="second")  # another subscription, same events
    return alerts


def test_a_service_gets_an_event_once_even_through_two_interests(linked, db):
    webhook = twitch_sub("stream.online", {"broadcaster_user_id": BROADCASTER}, sub_id="webhook-sub", method="webhook")
    upsert_subscription(db, webhook, created_by_us=True)
    db.commit()
    assert subscribe_all(db) == {} and subscribe_all(db, bot="second") == {}  # both interests reuse it
    assert db(db.hub_subscription.twitch_id == "webhook-sub").count() == 2
    registry = InterestRegistry()
    registry.load(db)
    message_id = store_event(db, webhook, {"broadcaster_user_id": BROADCASTER})
    rows = EventFeed(0).poll(db)
    deliveries = websocket_deliveries(registry, rows)
    assert [(account_id, json.loads(text)["id"]) for account_id, text in deliveries] == [(linked.id, message_id)]


def test_the_registry_reloads_for_an_unknown_subscription(linked, db, monkeypatch):
    registry = InterestRegistry()
    registry.load(db)
    subscription = subscribe_all(db)["stream.online"]
    store_event(db, subscription, {"broadcaster_user_id": BROADCASTER})
    rows = EventFeed(0).poll(db)
    assert registry.targets(subscription["id"]) == []
    monkeypatch.setattr(hub_forwarder, "UNKNOWN_RELOAD_SECONDS", 0.0)
    registry.refresh(db, rows, max_age=3600)
    assert [target.account_id for target in registry.targets(subscription["id"])] == [linked.id]
