"""The alerts overlay's feed: opened by its secret link without a cookie, it starts at "now" and
then gives each new follow, sub, gift, cheer and raid once, in order, as a line to show."""

from __future__ import annotations

import pytest

from apps.twitch_webhooks import alerts
from modules.twitch import eventsub as wire
from shared import overlay_links
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, post, webhook_settings


@pytest.fixture
def feed(db) -> str:
    token = overlay_links.create(db.alert_overlay_link, "Alerts", 30)
    db.commit()
    return f"/twitch_webhooks/alerts/{token}/feed"


def send(client, event_type: str, **event) -> None:
    post(client, wire.notification(SECRET, event_type, event={**wire.sample_event(event_type), **event}), status=200)


def test_the_feed_starts_now_then_gives_each_new_alert_once(configure, client, db, feed):
    webhook_settings(configure)
    send(client, "channel.follow", user_name="Before")
    start = client.get(feed).json
    assert start["alerts"] == []
    send(client, "channel.follow", user_name="Ada")
    send(client, "stream.online")  # not an alert
    send(client, "channel.cheer", is_anonymous=True, user_id=None, user_login=None, user_name=None, bits=100)
    send(client, "channel.raid", from_broadcaster_user_name="Grace", viewers=42)
    first = client.get(f"{feed}?after={start['last_id']}").json
    assert [(alert["kind"], alert["who"], alert["text"]) for alert in first["alerts"]] == [
        ("follow", "Ada", "just followed!"), ("cheer", "Anonymous", "cheered 100 bits!"),
        ("raid", "Grace", "is raiding with 42 viewers!")]
    assert client.get(f"{feed}?after={first['last_id']}").json == {"alerts": [], "last_id": first["last_id"]}


@pytest.mark.parametrize("after", ["yesterday", "%C2%B2", "-1"])
def test_a_bad_cursor_is_a_400(client, db, feed, after):
    assert "after:" in client.get(f"{feed}?after={after}", status=400).json["message"]


def test_the_page_and_feed_need_a_valid_link(client, db, feed):
    assert client.get(feed.removesuffix("/feed")).html.body["data-state"] == "active"
    assert client.get("/twitch_webhooks/alerts/guess", status=404).html.body["data-state"] == "unknown"
    overlay_links.revoke(db.alert_overlay_link, db(db.alert_overlay_link).select().first().id)
    db.commit()
    assert client.get(feed, status=410).json["state"] == "revoked"


@pytest.mark.parametrize(("event_type", "event", "line"), [
    ("channel.subscribe", {"user_name": "Ada", "tier": "2000"}, ("sub", "Ada", "subscribed (Tier 2)!")),
    ("channel.subscription.message", {"user_name": "Ada", "cumulative_months": 15},
     ("sub", "Ada", "resubscribed: 15 months!")),
    ("channel.subscription.gift", {"user_name": None, "total": 1, "tier": "1000"},
     ("gift", "An anonymous gifter", "gifted 1 Tier 1 sub!")),
    ("channel.cheer", {"user_name": "Bob", "bits": 1}, ("cheer", "Bob", "cheered 1 bit!")),
])
def test_each_kind_reads_as_a_sentence(event_type, event, line):
    described = alerts.describe(event_type, event)
    assert (described["kind"], described["who"], described["text"]) == line
