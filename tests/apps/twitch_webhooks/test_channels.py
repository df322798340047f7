"""Channels (added through Helix users, activated, points overrides), user info, and the setup of
the standard subscription set against a mocked Twitch."""

from __future__ import annotations

import pytest

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch import eventsub as wire
from modules.twitch.eventsub import REQUIRED_SCOPES, STANDARD_TYPES, standard_condition
from tests.apps.twitch_webhooks.webhook_fakes import CALLBACK, SECRET, fake_twitch, post, store_broadcaster
from tests.waiting import wait_until

ALL_SCOPES = sorted(set(REQUIRED_SCOPES.values()))


@pytest.fixture
def twitch(configure, db):
    with fake_twitch(configure) as fake:
        yield fake


def _channel(db, broadcaster_id: str = "1337"):
    db.rollback()
    return db(db.twitch_channel.broadcaster_id == broadcaster_id).select().first()


@pytest.mark.parametrize("value", ["cooler_user", "Cooler_User", "1337"])
def test_add_channel_by_login_or_id(client, admin_headers, twitch, db, value):
    reply = client.post_json("/twitch_webhooks/channels", {"channel": value}, headers=admin_headers, status=201)
    assert reply.json["created"] is True
    assert reply.json["data"] | {"created_at": None, "updated_at": None} == {
        "broadcaster_id": "1337", "login": "cooler_user", "display_name": "Cooler_user", "active": True,
        "points_overrides": {}, "created_at": None, "updated_at": None}
    again = client.post_json("/twitch_webhooks/channels", {"channel": value, "active": False}, headers=admin_headers)
    assert again.status_int == 200 and again.json["data"]["active"] is False
    listed = client.get("/twitch_webhooks/channels", headers=admin_headers).json["data"]
    assert [item["login"] for item in listed] == ["cooler_user"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"channel": "nobody_here"}, 404, "no user"), ({"channel": "not a login!"}, 400, "channel:"),
    ({}, 400, "channel:"), ({"channel": "cooler_user", "active": "maybe"}, 400, "active:"),
])
def test_add_channel_errors(client, admin_headers, twitch, db, body, status, words):
    reply = client.post_json("/twitch_webhooks/channels", body, headers=admin_headers, status=status)
    assert words in reply.json["message"]
    assert db(db.twitch_channel).count() == 0


def test_deactivate_and_override_points(client, admin_headers, twitch, db, configure):
    client.post_json("/twitch_webhooks/channels", {"channel": "cooler_user"}, headers=admin_headers, status=201)
    reply = client.post_json("/twitch_webhooks/channels/1337", {"points_overrides": {"channel.follow": 25}},
                             headers=admin_headers)
    assert reply.json["data"]["points_overrides"] == {"channel.follow": 25}
    post(client, wire.notification(SECRET, "channel.follow"), 200)
    client.post_json("/twitch_webhooks/channels/1337", {"active": False}, headers=admin_headers)
    post(client, wire.notification(SECRET, "channel.follow"), 200)
    db.rollback()
    assert [row.points for row in db(db.activity).select()] == [25]  # the inactive channel earned nothing
    assert db(db.eventsub_event).count() == 2
    assert _channel(db).points_overrides == {"channel.follow": 25}


def test_a_change_made_by_another_process_applies_within_the_settings_max_age(client, admin_headers, twitch, db,
                                                                            monkeypatch):
    monkeypatch.setattr(eventsub, "CHANNEL_SETTINGS_MAX_AGE", 0.2)
    client.post_json("/twitch_webhooks/channels", {"channel": "cooler_user"}, headers=admin_headers, status=201)
    post(client, wire.notification(SECRET, "channel.follow"), 200)
    db(db.twitch_channel.broadcaster_id == "1337").update(points_overrides={"channel.follow": 7})
    db.commit()  # as the CLI or another web replica would: this process is not told

    def follow_earns_seven() -> bool:
        post(client, wire.notification(SECRET, "channel.follow"), 200)
        db.rollback()
        return db(db.activity).select(orderby=~db.activity.id, limitby=(0, 1)).first().points == 7

    wait_until(follow_earns_seven)
    assert db(db.activity).select(orderby=db.activity.id).first().points == 10


@pytest.mark.parametrize(("overrides", "words"), [
    ({"stream.online": 5}, "not an activity type"), ({"channel.follow": "ten"}, "whole number"),
    ({"channel.follow": True}, "whole number"), ([1, 2], "JSON object"),
])
def test_bad_points_overrides_are_400(client, admin_headers, twitch, db, overrides, words):
    client.post_json("/twitch_webhooks/channels", {"channel": "cooler_user"}, headers=admin_headers, status=201)
    reply = client.post_json("/twitch_webhooks/channels/1337", {"points_overrides": overrides}, headers=admin_headers,
                             status=400)
    assert words in reply.json["message"]
    assert _channel(db).points_overrides in (None, {})


def test_unknown_channel_update_is_404(client, admin_headers, twitch, db):
    client.post_json("/twitch_webhooks/channels/999", {"active": True}, headers=admin_headers, status=404)


def test_admin_page_forms_add_and_override(admin_client, twitch, db):
    page = admin_client.get("/twitch_webhooks/admin/channels")
    form = page.forms["add-channel"]
    form["channel"] = "cooler_user"
    page = form.submit().follow()
    assert "cooler_user added" in page.html.select_one("#notice").text
    points = page.forms[4]
    points["points:channel.cheer"] = "2"
    page = points.submit().follow()
    assert page.html.select_one("#p-1337-channel\\.cheer")["value"] == "2"
    assert _channel(db).points_overrides == {"channel.cheer": 2}
    points = page.forms[4]
    points["points:channel.cheer"] = "lots"
    page = points.submit().follow()
    assert "whole number" in page.html.select_one("#error").text
    page = page.forms[2].submit().follow()  # Deactivate
    assert _channel(db).active is False and "inactive" in page.text


def test_user_info_through_helix(client, admin_headers, twitch, db):
    assert client.get("/twitch_webhooks/user/1337", headers=admin_headers).json["data"]["login"] == "cooler_user"
    client.get("/twitch_webhooks/user/31337", headers=admin_headers, status=404)
    client.get("/twitch_webhooks/user/cooler_user", headers=admin_headers, status=400)


# --- setup ------------------------------------------------------------------------------------
def test_setup_reuses_matching_subscriptions_and_creates_the_missing_ones(client, admin_headers, twitch, db):
    store_broadcaster(db, scopes=ALL_SCOPES)
    follow = twitch.add("channel.follow", "2", standard_condition("channel.follow", "1337"))
    twitch.add("channel.follow", "2", standard_condition("channel.follow", "42"))  # another channel
    twitch.add("channel.subscribe", "1", standard_condition("channel.subscribe", "1337"), callback="https://old.example")
    twitch.add("channel.cheer", "1", standard_condition("channel.cheer", "1337"), method="websocket")
    raid = twitch.add("channel.raid", "1", {"from_broadcaster_user_id": "", "to_broadcaster_user_id": "1337"})
    failed = twitch.add("channel.ban", "1", {"broadcaster_user_id": "1337"},
                        status="webhook_callback_verification_failed")
    twitch.add("stream.online", "2", {"broadcaster_user_id": "1337"})  # another version

    report = client.post("/twitch_webhooks/setup/1337", headers=admin_headers).json
    assert sorted(item["id"] for item in report["reused"]) == sorted([follow["id"], raid["id"]])
    assert sorted(item["type"] for item in report["created"]) == sorted(
        name for name, _ in STANDARD_TYPES if name not in ("channel.follow", "channel.raid"))
    assert report["failed"] == []
    assert twitch.deleted == [failed["id"]]
    for body in twitch.created:
        assert body["transport"] == {"method": "webhook", "callback": CALLBACK, "secret": SECRET}
        assert body["condition"] == standard_condition(body["type"], "1337")
        assert body["version"] == dict(STANDARD_TYPES)[body["type"]]
    db.rollback()
    ours = {row.twitch_id: row for row in db(db.eventsub_subscription).select()}
    assert all(ours[item["id"]].created_by_us for item in report["created"])
    assert ours[follow["id"]].created_by_us is False and ours[follow["id"]].status == "enabled"
    assert not any(twitch_id.startswith("pending:") for twitch_id in ours)

    again = client.post("/twitch_webhooks/setup/1337", headers=admin_headers).json
    assert (len(again["reused"]), again["created"], again["failed"]) == (len(STANDARD_TYPES), [], [])


def test_setup_lists_every_page(client, admin_headers, twitch, db):
    store_broadcaster(db, scopes=ALL_SCOPES)
    twitch.page_size = 1
    for name, version in STANDARD_TYPES:
        twitch.add(name, version, standard_condition(name, "1337"))
    report = client.post("/twitch_webhooks/setup/1337", headers=admin_headers).json
    assert len(report["reused"]) == len(STANDARD_TYPES) and twitch.created == []


def test_setup_reports_what_twitch_refused(client, admin_headers, twitch, db):
    store_broadcaster(db, scopes=ALL_SCOPES)
    twitch.refusals["channel.ban"] = (400, "invalid condition")
    report = client.post("/twitch_webhooks/setup/1337", headers=admin_headers).json
    assert [(item["type"], item["status"]) for item in report["failed"]] == [("channel.ban", 400)]
    assert "invalid condition" in report["failed"][0]["error"]
    assert len(report["created"]) == len(STANDARD_TYPES) - 1
    db.rollback()
    assert db(db.eventsub_subscription.type == "channel.ban").count() == 0


@pytest.mark.parametrize("scopes", [(), ("bits:read", "channel:read:subscriptions", "channel:moderate")])
def test_setup_needs_the_broadcasters_scopes(client, admin_headers, twitch, db, scopes):
    if scopes:
        store_broadcaster(db, scopes=scopes)
    reply = client.post("/twitch_webhooks/setup/1337", headers=admin_headers, status=403).json
    assert "moderator:read:followers" in reply["message"] and reply["login_url"] in reply["message"]
    assert reply["login_url"].startswith("http://127.0.0.1:8000/twitch_auth/login?scopes=")
    assert "moderator%3Aread%3Afollowers" in reply["login_url"]
    assert twitch.created == [] and twitch.deleted == []


def test_setup_without_webhook_secret_is_503(client, admin_headers, twitch, db, configure):
    store_broadcaster(db, scopes=ALL_SCOPES)
    configure(TWITCH_WEBHOOK_SECRET="")
    assert "TWITCH_WEBHOOK_SECRET" in client.post("/twitch_webhooks/setup/1337", headers=admin_headers,
                                                  status=503).json["message"]


def test_setup_form_reports_on_the_page(admin_client, twitch, db):
    store_broadcaster(db, scopes=ALL_SCOPES)
    admin_client.post_json("/twitch_webhooks/channels", {"channel": "1337"}, status=201)
    page = admin_client.get("/twitch_webhooks/admin/channels").forms[3].submit().follow()
    assert f"{len(STANDARD_TYPES)} created" in page.html.select_one("#notice").text


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/twitch_webhooks/channels"), ("POST", "/twitch_webhooks/channels"),
    ("POST", "/twitch_webhooks/channels/1337"), ("GET", "/twitch_webhooks/user/1337"),
    ("POST", "/twitch_webhooks/setup/1337"),
])
def test_channel_routes_need_admin_auth(client, db, method, path):
    reply = client.request(path, method=method, status=401, expect_errors=True)
    assert reply.json["status"] == 401


def test_channels_page_redirects_anonymous_browsers(client, db):
    reply = client.get("/twitch_webhooks/admin/channels", headers={"Accept": "text/html"}, status=303)
    assert reply.headers["Location"].startswith("/login")
