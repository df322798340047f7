"""GET/POST/DELETE /twitch_webhooks/subscriptions against a mocked Twitch, the overview page and
the module's health."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch import eventsub as wire
from tests.apps.twitch_webhooks.webhook_fakes import (
    CALLBACK,
    SECRET,
    fake_twitch,
    mock_app_token,
    post,
    store_broadcaster,
    webhook_settings,
)

CHEER = {"type": "channel.cheer", "version": "1", "condition": {"broadcaster_user_id": "1337"}}


@pytest.fixture
def twitch(configure, db):
    with fake_twitch(configure) as fake:
        yield fake


def test_list_shows_ours_and_twitchs_with_status_and_cost(client, admin_headers, twitch, db):
    listed = twitch.add("channel.follow", "2", {"broadcaster_user_id": "1337", "moderator_user_id": "1337"})
    twitch.subscriptions[0]["cost"] = 1
    twitch.add("channel.raid", "1", {"to_broadcaster_user_id": "1337"}, status="notification_failures_exceeded")
    eventsub.upsert_subscription(db, {**listed, "status": "webhook_callback_verification_pending", "cost": 0},
                                 created_by_us=True, secret="our-own-secret-1")
    db.commit()
    reply = client.get("/twitch_webhooks/subscriptions", headers=admin_headers).json
    assert [(item["id"], item["status"]) for item in reply["twitch"]] == [
        ("existing-0", "enabled"), ("existing-1", "notification_failures_exceeded")]
    assert reply["twitch_total_cost"] == 1 and reply["twitch_error"] is None
    ours = {item["id"]: item for item in reply["ours"]}
    assert (ours["existing-0"]["status"], ours["existing-0"]["cost"], ours["existing-0"]["created_by_us"]) == (
        "enabled", 1, True)
    assert ours["existing-0"]["own_secret"] is True and "our-own-secret-1" not in json.dumps(reply)
    assert ours["existing-1"]["created_by_us"] is False


def test_list_still_shows_ours_when_twitch_refuses(client, admin_headers, configure, db):
    webhook_settings(configure)
    eventsub.upsert_subscription(db, wire.subscription_object("channel.ban"), created_by_us=True)
    db.commit()
    with responses.RequestsMock() as mock:
        mock_app_token(mock)
        mock.add(responses.GET, "https://api.twitch.tv/helix/eventsub/subscriptions", status=400,
                 json={"error": "Bad Request", "status": 400, "message": "invalid client"})
        reply = client.get("/twitch_webhooks/subscriptions", headers=admin_headers).json
    assert "invalid client" in reply["twitch_error"] and len(reply["ours"]) == 1
    skipped = client.get("/twitch_webhooks/subscriptions", params={"twitch": "0"}, headers=admin_headers).json
    assert skipped["twitch"] == [] and skipped["twitch_error"] is None


def test_create_with_its_own_secret_survives_a_challenge_before_twitchs_reply(
        client, admin_headers, twitch, db, live_server):
    """Twitch may send the challenge before answering the creation: the secret is already stored."""
    store_broadcaster(db, scopes=("bits:read",))
    answers = []

    def challenge_now(subscription, secret):
        message = wire.signed_message(secret, wire.VERIFICATION, {"challenge": "ch-123", "subscription": subscription})
        answers.append(requests.post(live_server + "/twitch_webhooks/webhook", data=message[1], headers=message[0],
                                     timeout=10))

    twitch.on_create = challenge_now
    reply = client.post_json("/twitch_webhooks/subscriptions", {**CHEER, "secret": "cheer-only-secret"},
                             headers=admin_headers, status=201).json["data"]
    assert [(answer.status_code, answer.text) for answer in answers] == [(200, "ch-123")]
    assert twitch.created[0]["transport"] == {"method": "webhook", "callback": CALLBACK, "secret": "cheer-only-secret"}
    db.rollback()
    rows = db(db.eventsub_subscription).select()
    assert [(row.twitch_id, row.status, row.created_by_us) for row in rows] == [(reply["id"], "enabled", True)]
    post(client, wire.notification(SECRET, "channel.cheer", subscription_id=reply["id"]), 403)
    post(client, wire.notification("cheer-only-secret", "channel.cheer", subscription_id=reply["id"]), 200)


def test_create_with_the_default_secret(client, admin_headers, twitch, db):
    created = client.post_json("/twitch_webhooks/subscriptions", {"type": "stream.online",
                                                                  "condition": {"broadcaster_user_id": "1337"}},
                               headers=admin_headers, status=201).json["data"]
    assert twitch.created[0]["transport"]["secret"] == SECRET and twitch.created[0]["version"] == "1"
    post(client, wire.verification(SECRET, "stream.online", subscription_id=created["id"]), 200)
    db.rollback()
    row = db(db.eventsub_subscription).select().first()
    assert (row.status, row.secret_encrypted) == ("enabled", None)


@pytest.mark.parametrize(("body", "words"), [
    ({**CHEER, "type": "Channel Cheer"}, "type:"), ({**CHEER, "version": "1.0!"}, "version:"),
    ({**CHEER, "condition": {}}, "condition:"), ({**CHEER, "condition": {"broadcaster_user_id": 1337}}, "condition:"),
    ({**CHEER, "secret": "short"}, "secret:"),
])
def test_create_rejects_bad_input(client, admin_headers, twitch, db, body, words):
    assert client.post_json("/twitch_webhooks/subscriptions", body, headers=admin_headers,
                            status=400).json["message"].startswith(words)
    assert twitch.created == [] and db(db.eventsub_subscription).count() == 0


def test_create_needs_the_broadcasters_scope(client, admin_headers, twitch, db):
    store_broadcaster(db, scopes=("user:read:email",))
    reply = client.post_json("/twitch_webhooks/subscriptions", CHEER, headers=admin_headers, status=403).json
    assert reply["missing_scopes"] == ["bits:read"] and "bits%3Aread" in reply["login_url"]
    assert twitch.created == []


def test_create_conflict_is_passed_on_and_leaves_nothing(client, admin_headers, twitch, db):
    store_broadcaster(db, scopes=("bits:read",))
    twitch.add("channel.cheer", "1", CHEER["condition"])
    reply = client.post_json("/twitch_webhooks/subscriptions", CHEER, headers=admin_headers, status=409).json
    assert "already exists" in reply["message"]
    assert db(db.eventsub_subscription).count() == 0


def test_delete_at_twitch_and_here(client, admin_headers, twitch, db):
    existing = twitch.add("channel.ban", "1", {"broadcaster_user_id": "1337"})
    eventsub.upsert_subscription(db, existing, created_by_us=True)
    eventsub.upsert_subscription(db, wire.subscription_object("channel.raid", subscription_id="gone-at-twitch"),
                                 created_by_us=True)
    db.commit()
    assert client.delete("/twitch_webhooks/subscriptions", params={"id": existing["id"]},
                         headers=admin_headers).json == {"deleted": existing["id"]}
    assert twitch.subscriptions == []
    client.delete("/twitch_webhooks/subscriptions?id=gone-at-twitch", headers=admin_headers, status=200)
    client.delete("/twitch_webhooks/subscriptions?id=never-existed", headers=admin_headers, status=404)
    client.delete("/twitch_webhooks/subscriptions?id=bad%20id", headers=admin_headers, status=400)
    db.rollback()
    assert db(db.eventsub_subscription).count() == 0


def test_overview_shows_the_callback_and_revoked_reasons(admin_client, configure, db):
    webhook_settings(configure)
    headers, body = wire.revocation(SECRET, "channel.subscribe", reason="user_removed")
    post(admin_client, (headers, body), 200)
    eventsub.upsert_subscription(db, wire.subscription_object("channel.follow"), created_by_us=True)
    db.commit()
    page = admin_client.get("/twitch_webhooks/admin")
    assert page.html.select_one("#callback").text == CALLBACK
    revoked = page.html.select("#revoked tbody tr")
    assert len(revoked) == 1 and "user_removed" in revoked[0].text and "channel.subscribe" in revoked[0].text
    assert len(page.html.select("#subscriptions tbody tr")) == 2
    configure(TWITCH_WEBHOOK_SECRET="")
    assert admin_client.get("/twitch_webhooks/admin").html.select_one("#no-secret") is not None


def test_health_reports_configuration_and_subscriptions(configure, db):
    from apps.twitch_webhooks.health import check

    configure(TWITCH_WEBHOOK_SECRET="")
    assert check().status == "not_configured"
    webhook_settings(configure)
    eventsub.upsert_subscription(db, wire.subscription_object("channel.follow"), created_by_us=True)
    db.commit()
    health = check()
    assert (health.status, health.data["subscriptions"]) == ("ok", {"enabled": 1})
    eventsub.mark_revoked(db, wire.subscription_object("channel.cheer", status="authorization_revoked"))
    db.commit()
    health = check()
    assert health.status == "degraded" and health.data["subscriptions"] == {"enabled": 1, "revoked": 1}


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_subscription_routes_need_admin_auth(client, db, method):
    reply = client.request("/twitch_webhooks/subscriptions?id=x", method=method, status=401, expect_errors=True)
    assert reply.json["status"] == 401


def test_overview_redirects_anonymous_browsers(client, db):
    assert client.get("/twitch_webhooks/admin", headers={"Accept": "text/html"}, status=303).headers[
        "Location"].startswith("/login")
