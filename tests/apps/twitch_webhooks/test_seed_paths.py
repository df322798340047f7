"""The seed systems' paths still work (manifest aliases): the Twitch module's /twitch/webhook,
/twitch/events, /twitch/activities, /twitch/api/…, the EventSub service's /v1/…; and
TWITCH_WEBHOOK_CALLBACK_URL is the callback given to Twitch."""

from __future__ import annotations

import json

import pytest

from modules.twitch import eventsub as wire
from tests.apps.twitch_webhooks.hub.fakes import make_bot
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, fake_twitch, webhook_settings

OLD_CALLBACK = "https://bot.example.test/twitch/webhook"


@pytest.fixture
def twitch(configure, db):
    with fake_twitch(configure, TWITCH_WEBHOOK_CALLBACK_URL=OLD_CALLBACK) as fake:
        yield fake


def test_a_subscription_calling_the_old_webhook_path_is_stored(client, configure, db, admin_headers):
    webhook_settings(configure)
    headers, body = wire.notification(SECRET, "channel.follow")
    reply = client.post("/twitch/webhook", params=body, headers=headers, content_type="application/json", status=200)
    assert reply.json == {"status": "stored", "message_id": headers[wire.MESSAGE_ID]}
    challenge = wire.verification(SECRET, "stream.online")
    assert client.post("/twitch/webhook", params=challenge[1], headers=challenge[0],
                       content_type="application/json", status=200).text == json.loads(challenge[1])["challenge"]
    assert db(db.eventsub_event).count() == 1
    for name in ("events", "activities"):
        old = client.get(f"/twitch/{name}", headers=admin_headers).json
        assert old == client.get(f"/twitch_webhooks/{name}", headers=admin_headers).json and len(old["data"]) == 1


def test_new_subscriptions_give_twitch_the_configured_callback(client, admin_headers, twitch, db):
    online = {"type": "stream.online", "condition": {"broadcaster_user_id": "1337"}}
    client.post_json("/twitch/api/subscriptions", online, headers=admin_headers, status=201)
    assert twitch.created[0]["transport"]["callback"] == OLD_CALLBACK
    listed = client.get("/twitch/api/subscriptions", headers=admin_headers).json
    assert listed == client.get("/twitch_webhooks/subscriptions", headers=admin_headers).json
    assert client.get("/twitch/api/channels", headers=admin_headers).json == client.get(
        "/twitch_webhooks/channels", headers=admin_headers).json
    assert client.get("/twitch/api/user/1337", headers=admin_headers, expect_errors=True).status_int == client.get(
        "/twitch_webhooks/user/1337", headers=admin_headers, expect_errors=True).status_int


def test_the_eventsub_services_v1_paths_answer_with_the_same_authentication(client, admin_headers, twitch, db):
    make_bot(db)
    created = client.post("/v1/admin/service-accounts?name=alerts", headers=admin_headers, status=201).json
    service = {"X-Client-Id": created["client_id"], "X-Client-Secret": created["client_secret"]}
    assert [bot["id"] for bot in client.get("/v1/bots", headers=service).json["bots"]] == ["main"]
    client.get("/v1/bots", status=401)
    client.get("/v1/interests", headers={**service, "X-Client-Secret": "wrong"}, status=401)
    assert client.get("/v1/interests", headers=service).json == client.get(
        "/twitch_webhooks/v1/interests", headers=service).json
    client.get("/v1/no-such-route", headers=service, status=404)
