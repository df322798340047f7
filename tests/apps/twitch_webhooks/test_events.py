"""Activities and points per event type, and the events/activities API and pages (filters, cursors)."""

from __future__ import annotations

import datetime
import json
import random

import pytest

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch import eventsub as wire
from shared.db import utcnow
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, post, webhook_settings

RNG = random.Random(42)
EXPECTED = {
    "channel.follow": lambda event: 10,
    "channel.subscribe": lambda event: 50,
    "channel.subscription.message": lambda event: 50,
    "channel.cheer": lambda event: event["bits"],
    "channel.raid": lambda event: 30,
    "channel.subscription.gift": lambda event: 60 * event["total"],
    "channel.ban": lambda event: -10,
}


@pytest.fixture
def receiver(configure, client):
    webhook_settings(configure)
    return client


def _activity(db):
    db.rollback()
    rows = db(db.activity).select()
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("event_type", sorted(EXPECTED))
def test_each_event_type_becomes_an_activity_with_its_points(receiver, db, event_type):
    event = wire.sample_event(event_type, rng=RNG)
    post(receiver, wire.notification(SECRET, event_type, event=event), 200)
    activity = _activity(db)
    user_prefix = "from_broadcaster_user_" if event_type == "channel.raid" else "user_"
    assert (activity.activity_type, activity.points, activity.channel_id) == (
        event_type, EXPECTED[event_type](event), "1337")
    assert (activity.user_id, activity.user_login) == (event[user_prefix + "id"], event[user_prefix + "login"])
    assert activity.source == "eventsub" and activity.details["transport"] == "webhook"


@pytest.mark.parametrize("event_type", ["stream.online", "stream.offline"])
def test_stream_events_are_stored_without_activity(receiver, db, event_type):
    post(receiver, wire.notification(SECRET, event_type), 200)
    assert db(db.eventsub_event.event_type == event_type).count() == 1
    assert db(db.activity).count() == 0


@pytest.mark.parametrize(("event_type", "units"), [("channel.cheer", "bits"), ("channel.subscription.gift", "total")])
def test_anonymous_cheers_and_gifts_have_points_but_no_user(receiver, db, event_type, units):
    event = wire.sample_event(event_type, rng=RNG, anonymous=True)
    post(receiver, wire.notification(SECRET, event_type, event=event), 200)
    activity = _activity(db)
    assert (activity.user_id, activity.user_login, activity.user_name) == (None, None, None)
    assert activity.points == EXPECTED[event_type](event) and activity.details["is_anonymous"] is True


def test_activity_points_setting_overrides_the_defaults(configure, client, db):
    webhook_settings(configure, ACTIVITY_POINTS='{"channel.cheer": 3, "channel.follow": 1}')
    event = {**wire.sample_event("channel.cheer", rng=RNG), "bits": 100}
    post(client, wire.notification(SECRET, "channel.cheer", event=event), 200)
    assert _activity(db).points == 300


def test_channel_overrides_win_over_the_setting(configure, client, db):
    webhook_settings(configure, ACTIVITY_POINTS='{"channel.raid": 5}')
    db.twitch_channel.insert(broadcaster_id="1337", login="cooler_user", points_overrides={"channel.raid": 99},
                             created_at=utcnow())
    db.commit()
    post(client, wire.notification(SECRET, "channel.raid"), 200)
    assert _activity(db).points == 99


# --- the API --------------------------------------------------------------------------------
def _store(db, event_type: str, channel: str = "1337", minutes_ago: int = 0, user_id: str | None = None) -> dict:
    login = "cooler_user" if channel == "1337" else f"channel_{channel}"
    event = wire.sample_event(event_type, broadcaster_id=channel, broadcaster_login=login, rng=RNG)
    if user_id:
        event["user_id"] = user_id
    eventsub.record_notification(db, message_id=wire.format_timestamp() + str(RNG.random()),
                                 subscription=wire.subscription_object(event_type, channel), event=event,
                                 transport="webhook", received_at=utcnow() - datetime.timedelta(minutes=minutes_ago))
    db.commit()
    return event


def _get(client, path: str, admin_headers, status: int = 200, **params):
    return client.get(path, params=params, headers=admin_headers, status=status).json


def test_events_filters(client, db, admin_headers):
    follow = _store(db, "channel.follow", minutes_ago=90, user_id="555")
    _store(db, "channel.cheer", minutes_ago=30)
    _store(db, "stream.online", channel="42", minutes_ago=5)
    db.twitch_channel.insert(broadcaster_id="42", login="other_channel", created_at=utcnow())
    db.commit()

    def types(**params) -> list[str]:
        return [row["type"] for row in _get(client, "/twitch_webhooks/events", admin_headers, **params)["data"]]

    assert types() == ["stream.online", "channel.cheer", "channel.follow"]
    assert types(type="channel.cheer") == ["channel.cheer"]
    assert types(channel="42") == types(channel="other_channel") == ["stream.online"]
    assert types(user="555") == ["channel.follow"]
    hour_ago = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).isoformat()
    assert types(since=hour_ago) == ["stream.online", "channel.cheer"]
    assert types(until=hour_ago) == ["channel.follow"]
    first = _get(client, "/twitch_webhooks/events", admin_headers, type="channel.follow")["data"][0]
    assert first["event"] == follow and first["transport"] == "webhook" and first["received_at"].endswith("Z")


@pytest.mark.parametrize(("params", "named"), [
    ({"since": "last tuesday"}, "since"), ({"until": "2024-13-01"}, "until"), ({"limit": "501"}, "limit"),
    ({"limit": "0"}, "limit"), ({"limit": "ten"}, "limit"), ({"cursor": "not-a-cursor"}, "cursor"),
    ({"type": "DROP TABLE"}, "type"), ({"channel": "no/such"}, "channel"), ({"channel": "unknown_login"}, "channel"),
    ({"since": "2024-05-02", "until": "2024-05-01"}, "since"),
])
def test_bad_filters_are_400_naming_the_parameter(client, db, admin_headers, params, named):
    reply = _get(client, "/twitch_webhooks/events", admin_headers, 400, **params)
    assert reply["message"].startswith(named + ":")


def test_cursor_pagination_walks_every_row_once(client, db, admin_headers):
    for _ in range(7):
        _store(db, "channel.follow")
    seen, cursor, pages = [], None, 0
    while True:
        paging = {"cursor": cursor} if cursor else {}
        page = _get(client, "/twitch_webhooks/events", admin_headers, limit="3", **paging)
        seen += [row["id"] for row in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 7 and seen == sorted(seen, reverse=True) and len(set(seen)) == 7


def test_activities_filters_and_pagination(client, db, admin_headers):
    cheer = _store(db, "channel.cheer", minutes_ago=20)
    _store(db, "channel.follow", channel="42")
    _store(db, "stream.online")
    everything = _get(client, "/twitch_webhooks/activities", admin_headers)
    assert [row["type"] for row in everything["data"]] == ["channel.follow", "channel.cheer"]
    assert everything["next_cursor"] is None
    by_user = _get(client, "/twitch_webhooks/activities", admin_headers, user=cheer["user_login"])["data"]
    assert [(row["type"], row["points"]) for row in by_user] == [("channel.cheer", cheer["bits"])]
    assert _get(client, "/twitch_webhooks/activities", admin_headers, channel="cooler_user")["data"][0]["type"] == (
        "channel.cheer")
    page = _get(client, "/twitch_webhooks/activities", admin_headers, limit="1")
    rest = _get(client, "/twitch_webhooks/activities", admin_headers, cursor=page["next_cursor"])
    assert [row["type"] for row in page["data"] + rest["data"]] == ["channel.follow", "channel.cheer"]
    assert _get(client, "/twitch_webhooks/activities", admin_headers, 400, since="soon")["message"].startswith("since")


@pytest.mark.parametrize("path", ["/twitch_webhooks/events", "/twitch_webhooks/activities"])
def test_listing_apis_need_admin_auth(client, db, path):
    reply = client.get(path, status=401)
    assert "admin" in reply.json["message"]


@pytest.mark.parametrize("path", ["/twitch_webhooks/admin/events", "/twitch_webhooks/admin/activities"])
def test_listing_pages_redirect_anonymous_browsers_to_login(client, db, path):
    reply = client.get(path, headers={"Accept": "text/html"}, status=303)
    assert reply.headers["Location"].startswith("/login?next=")


def test_events_page_shows_rows_filters_and_next_page(admin_client, db):
    for _ in range(3):
        _store(db, "channel.follow")
    _store(db, "channel.ban")
    page = admin_client.get("/twitch_webhooks/admin/events", params={"type": "channel.follow", "limit": "2"})
    assert page.html.select("#rows tbody tr") and len(page.html.select("#rows tbody tr")) == 2
    assert {row.select("td")[2].text.split()[0] for row in page.html.select("#rows tbody tr")} == {"channel.follow"}
    next_page = admin_client.get(page.html.select_one("#next")["href"])
    assert len(next_page.html.select("#rows tbody tr")) == 1 and next_page.html.select_one("#next") is None
    bad = admin_client.get("/twitch_webhooks/admin/activities", params={"until": "whenever"}, status=400)
    assert "until:" in bad.html.select_one("[role=alert]").text


def test_activities_page_lists_points(admin_client, db):
    cheer = _store(db, "channel.cheer")
    page = admin_client.get("/twitch_webhooks/admin/activities")
    cells = [cell.text for cell in page.html.select("#rows tbody td")]
    assert cheer["user_name"] in cells and str(cheer["bits"]) in cells
    assert json.dumps(cheer["message"]) not in page.text  # the page lists activities, not raw events


def test_events_page_shows_names_payload_and_marks_simulated_rows(admin_client, db):
    follow = _store(db, "channel.follow")
    _store(db, "channel.cheer")
    cheer = wire.sample_event("channel.cheer", anonymous=True)
    subscription = wire.subscription_object("channel.cheer", "1337")
    db.eventsub_subscription.insert(twitch_id=subscription["id"], type="channel.cheer", version="1", condition={},
                                    transport_method="webhook", status="enabled", created_by_us=True,
                                    created_at=utcnow(), updated_at=utcnow())
    eventsub.record_notification(db, message_id="real-1", subscription=subscription, event=cheer,
                                 transport="webhook", received_at=utcnow())
    db.commit()
    rows = admin_client.get("/twitch_webhooks/admin/events").html.select("#rows tbody tr")
    real, simulated, first = rows
    assert [cell.text for cell in real.select("td")[3:5]] == ["Cooler_user", "anonymous"]
    assert "test" not in real.get("class", []) and "test" in simulated["class"]
    assert first.select("td")[4].text == follow["user_name"]
    assert json.loads(first.select_one("details.payload pre").text) == follow


def test_the_type_picker_offers_the_standard_and_stored_types(admin_client, db):
    _store(db, "channel.chat.notification")
    options = [option.text for option in admin_client.get("/twitch_webhooks/admin/events").html.select("#type option")]
    assert options[0] == "all types" and {"channel.follow", "channel.raid", "channel.chat.notification"} <= set(options)


def test_activities_of_simulated_events_are_marked_test(admin_client, db):
    _store(db, "channel.follow")  # a subscription this system does not know: the simulator's
    real = wire.subscription_object("channel.raid", "1337")
    db.eventsub_subscription.insert(twitch_id=real["id"], type="channel.raid", version="1", condition={},
                                    transport_method="webhook", status="enabled", created_by_us=True,
                                    created_at=utcnow(), updated_at=utcnow())
    eventsub.record_notification(db, message_id="real-raid", subscription=real, event=wire.sample_event("channel.raid"),
                                 transport="webhook", received_at=utcnow())
    db.commit()
    rows = admin_client.get("/twitch_webhooks/admin/activities").html.select("#rows tbody tr")
    assert [(row.select("td")[2].text.split()[0], "test" in row.get("class", [])) for row in rows] == [
        ("channel.raid", False), ("channel.follow", True)]
