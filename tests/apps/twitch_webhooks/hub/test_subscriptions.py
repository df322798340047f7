"""The Twitch subscriptions behind the hub's interests, against a mocked Helix."""

from __future__ import annotations

import logging

import pytest
import responses

from apps.twitch_webhooks.eventsub import store as eventsub
from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub import subscriptions as hub_subscriptions
from shared.db import utcnow
from tests.apps.twitch_auth.twitch_fakes import ID_URL, token_body
from tests.apps.twitch_webhooks.hub.fakes import (
    BOT_USER_ID,
    BROADCASTER,
    SUBSCRIPTIONS,
    hub_settings,
    make_account,
    make_bot,
    make_interest,
    twitch_sub,
    twitch_subscriptions,
)

FOLLOW = {"broadcaster_user_id": BROADCASTER, "moderator_user_id": BOT_USER_ID}
CHANNEL = {"broadcaster_user_id": BROADCASTER}


@pytest.fixture
def twitch(configure, db):
    hub_settings(configure)
    make_bot(db)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield twitch_subscriptions(mock)


@pytest.fixture
def account(db):
    return make_account(db)[0]


def links(db) -> dict[str, tuple]:
    rows = db(db.hub_subscription).select()
    return {row.event_type: (row.status, row.twitch_id, row.created_by_hub) for row in rows}


def test_reconcile_lists_every_page_reuses_creates_and_deletes_our_orphans(twitch, account, db, caplog):
    caplog.set_level(logging.INFO, logger="apps.twitch_webhooks.hub.subscriptions")
    for event_type in ("channel.follow", "stream.online", "stream.offline"):
        make_interest(db, account, event_type)
    twitch.add_subscription(twitch_sub("channel.follow", FOLLOW, version="2", sub_id="live-follow",
                                       session_id="s-new"))
    dead = twitch.add_subscription(twitch_sub("stream.online", CHANNEL, sub_id="dead-online", session_id="s-old",
                                              status="websocket_disconnected"))
    twitch.add_subscription(twitch_sub("channel.cheer", CHANNEL, sub_id="someone-elses", session_id="s-old",
                                       status="websocket_disconnected"))
    orphan = twitch.add_subscription(twitch_sub("channel.raid", {"to_broadcaster_user_id": BROADCASTER},
                                                sub_id="orphan-raid", session_id="s-new"))
    for ours in (dead, orphan):
        eventsub.upsert_subscription(db, ours, created_by_us=True)
    db.commit()

    summary = hub_subscriptions.reconcile("main", "s-new")

    assert (summary.reused, summary.created, summary.deleted, summary.failed) == (1, 2, 2, 0)
    listed = [params for method, _, params, _ in twitch.calls if method == "GET"]
    assert [params.get("after") for params in listed] == [None, ["2"]]  # both pages
    assert sorted(twitch.deleted) == ["dead-online", "orphan-raid"]
    assert sorted(body["type"] for body in twitch.created) == ["stream.offline", "stream.online"]
    assert all(body["transport"] == {"method": "websocket", "session_id": "s-new"} for body in twitch.created)
    assert {token for _, _, _, token in twitch.calls} == {"bot-access-0001"}
    assert "someone-elses" in twitch.by_id()
    state = links(db)
    assert state["channel.follow"] == ("enabled", "live-follow", False)
    assert state["stream.online"][0] == "enabled" and state["stream.online"][2] is True
    assert not db(db.eventsub_subscription.twitch_id.belongs(["dead-online", "orphan-raid"])).count()
    assert "1 reused, 2 created, 2 deleted, 0 failed" in caplog.text


def test_reconcile_reuses_an_enabled_webhook_subscription_of_the_receiver(twitch, account, db):
    make_interest(db, account, "channel.subscribe")
    eventsub.upsert_subscription(db, twitch_sub("channel.subscribe", CHANNEL, sub_id="webhook-sub", method="webhook"),
                                 created_by_us=True)
    db.commit()
    summary = hub_subscriptions.reconcile("main", "s-1")
    assert (summary.reused, summary.created) == (1, 0)
    assert twitch.created == []
    assert links(db)["channel.subscribe"] == ("enabled", "webhook-sub", False)


def test_sync_creates_for_new_interests_and_deletes_with_the_last_one(twitch, account, db):
    other = make_account(db, "other")[0]
    first, _ = make_interest(db, account, "stream.online")
    second, _ = make_interest(db, other, "stream.online")  # the same subscription key
    summary = hub_subscriptions.sync("main", "s-1")
    assert summary.created == 1 and len(twitch.created) == 1
    calls = len(twitch.calls)
    hub_subscriptions.sync("main", "s-1")
    assert len(twitch.calls) == calls  # nothing changed: no Helix call

    hub_interests.delete_interest(db, account.id, first["interest_id"])
    db.commit()
    hub_subscriptions.sync("main", "s-1")
    assert twitch.deleted == []  # another interest still uses it
    hub_interests.delete_interest(db, other.id, second["interest_id"])
    db.commit()
    summary = hub_subscriptions.sync("main", "s-1")
    assert summary.deleted == 1 and len(twitch.deleted) == 1
    assert twitch.by_id() == {} and links(db) == {}


def test_refusals_are_recorded_and_not_retried_at_once(twitch, account, db, caplog):
    twitch.refusals["channel.subscribe"] = (403, "subscription missing proper authorization")
    twitch.refusals["channel.cheer"] = (429, "websocket transports limit exceeded")
    make_interest(db, account, "channel.subscribe")
    make_interest(db, account, "channel.cheer")
    summary = hub_subscriptions.sync("main", "s-1")
    assert summary.failed == 2
    state = db(db.hub_subscription.event_type == "channel.subscribe").select().first()
    assert state.status == "failed" and "missing proper authorization" in state.last_error
    assert "EventSub limit reached" in caplog.text and "3 WebSocket connections per user token" in caplog.text
    shown = hub_interests.list_interests(db, account.id)[0]["subscription"]
    assert shown["status"] == "failed" and "403" in shown["error"]
    calls = len(twitch.calls)
    hub_subscriptions.sync("main", "s-1")
    assert len(twitch.calls) == calls
    db(db.hub_subscription).update(updated_at=utcnow() - hub_subscriptions.RETRY_FAILED * 2)
    db.commit()
    twitch.refusals.clear()
    assert hub_subscriptions.sync("main", "s-1").created == 2


def test_a_rejected_bot_token_is_refreshed_once(configure, db):
    hub_settings(configure)
    make_bot(db)
    account = make_account(db)[0]
    make_interest(db, account, "stream.online")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{ID_URL}/token", json=token_body(access="bot-access-0002"))
        mock.add(responses.POST, SUBSCRIPTIONS, status=401, json={"message": "invalid token"})  # answered first
        twitch = twitch_subscriptions(mock)
        assert hub_subscriptions.sync("main", "s-1").created == 1
    assert [token for method, _, _, token in twitch.calls if method == "POST"] == ["bot-access-0002"]


def test_revocation_marks_the_subscription(twitch, account, db):
    make_interest(db, account, "stream.online")
    hub_subscriptions.sync("main", "s-1")
    created = next(iter(twitch.by_id().values()))
    hub_subscriptions.revoked({**created, "status": "authorization_revoked"})
    row = db(db.eventsub_subscription.twitch_id == created["id"]).select().first()
    assert (row.status, row.revoked_reason) == ("revoked", "authorization_revoked")
    assert links(db)["stream.online"][0] == "revoked"


def test_carry_over_moves_the_subscriptions_to_the_new_session(twitch, account, db):
    make_interest(db, account, "stream.online")
    hub_subscriptions.sync("main", "s-1")
    hub_subscriptions.carry_over("main", "s-1", "s-2")
    assert db(db.hub_subscription).select().first().session_id == "s-2"
    assert db(db.eventsub_subscription).select().first().session_id == "s-2"
    calls = len(twitch.calls)
    hub_subscriptions.sync("main", "s-2")
    assert len(twitch.calls) == calls  # carried over, not created again
