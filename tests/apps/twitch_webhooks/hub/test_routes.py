"""/twitch_webhooks/v1/…: service accounts (admin), bots, interests (service auth)."""

from __future__ import annotations

import pytest

from shared import crypto
from tests.apps.twitch_webhooks.hub.fakes import BOT_USER_ID, BROADCASTER, hub_settings, make_bot

ACCOUNTS = "/twitch_webhooks/v1/admin/service-accounts"
INTERESTS = "/twitch_webhooks/v1/interests"
BOTS = "/twitch_webhooks/v1/bots"


@pytest.fixture
def hub(configure, db):
    hub_settings(configure, HUB_ALLOW_PRIVATE_WEBHOOKS="false")
    make_bot(db)


@pytest.fixture
def service(client, admin_headers, hub) -> dict:
    """Headers of a new service account."""
    created = client.post(f"{ACCOUNTS}?name=alerts", headers=admin_headers, status=201).json
    return {"X-Client-Id": created["client_id"], "X-Client-Secret": created["client_secret"]}


def follow(**changes) -> dict:
    return {"bot_account_id": "main", "event_type": "channel.follow", "broadcaster_user_id": BROADCASTER,
            "transport": "websocket", **changes}


def test_service_account_secret_is_shown_once_and_stored_hashed(client, admin_headers, hub, db):
    created = client.post(f"{ACCOUNTS}?name=alerts", headers=admin_headers, status=201).json
    assert created["name"] == "alerts" and created["client_id"].startswith("svc_")
    row = db(db.hub_service_account.client_id == created["client_id"]).select().first()
    assert created["client_secret"] not in row.secret_hash
    assert crypto.verify_secret(created["client_secret"], row.secret_hash)
    listed = client.get(ACCOUNTS, headers=admin_headers).json["service_accounts"]
    assert [account["client_id"] for account in listed] == [created["client_id"]]
    assert "client_secret" not in listed[0] and created["client_secret"] not in str(listed)


def test_service_account_name_is_validated(client, admin_headers, hub):
    missing = client.post(ACCOUNTS, headers=admin_headers, status=422).json
    assert missing["field"] == "name"
    assert client.post(f"{ACCOUNTS}?name=%3Cscript%3E", headers=admin_headers, status=422).json["field"] == "name"
    client.post_json(ACCOUNTS, {"name": "from-json"}, headers=admin_headers, status=201)
    assert client.post(f"{ACCOUNTS}?name=from-json", headers=admin_headers, status=409).json["field"] == "name"


def test_regenerate_replaces_the_secret(client, admin_headers, service):
    client.get(INTERESTS, headers=service, status=200)
    renewed = client.post(f"{ACCOUNTS}/{service['X-Client-Id']}/regenerate", headers=admin_headers).json
    assert renewed["client_secret"] != service["X-Client-Secret"]
    client.get(INTERESTS, headers=service, status=401)
    client.get(INTERESTS, headers={**service, "X-Client-Secret": renewed["client_secret"]}, status=200)
    client.post(f"{ACCOUNTS}/svc_unknown/regenerate", headers=admin_headers, status=404)


def test_bots_are_listed_for_admins_and_services_without_tokens(client, admin_headers, service):
    for headers in (admin_headers, service):
        bots = client.get(BOTS, headers=headers).json["bots"]
        assert bots == [{"id": "main", "login": "mainbot", "user_id": BOT_USER_ID, "authenticated": True,
                         "static": False, "default": True}]
    assert "bot-access" not in client.get(BOTS, headers=admin_headers).text


def test_interest_lifecycle(client, service, db):
    created = client.post_json(INTERESTS, follow(), headers=service, status=201).json
    assert created["condition"] == {"broadcaster_user_id": BROADCASTER, "moderator_user_id": BOT_USER_ID}
    assert created["version"] == "2" and created["subscription"] == {"status": "pending"}
    assert "webhook_secret" not in created
    listed = client.get(INTERESTS, headers=service).json["interests"]
    assert [item["interest_id"] for item in listed] == [created["interest_id"]]
    again = client.post_json(INTERESTS, follow(), headers=service, status=409).json
    assert again["interest_id"] == created["interest_id"]
    client.delete(f"{INTERESTS}/{created['interest_id']}", headers=service, status=200)
    client.delete(f"{INTERESTS}/{created['interest_id']}", headers=service, status=404)
    assert client.get(INTERESTS, headers=service).json["interests"] == []


@pytest.mark.parametrize("bot", ["main", "MAIN", BOT_USER_ID, int(BOT_USER_ID)])
def test_the_bot_is_named_by_its_name_or_its_twitch_user_id(client, service, bot):
    created = client.post_json(INTERESTS, follow(bot_account_id=bot), headers=service, status=201).json
    assert created["condition"]["moderator_user_id"] == BOT_USER_ID


def test_services_see_only_their_own_interests(client, admin_headers, service):
    created = client.post_json(INTERESTS, follow(), headers=service, status=201).json
    other = client.post(f"{ACCOUNTS}?name=other", headers=admin_headers, status=201).json
    other_headers = {"X-Client-Id": other["client_id"], "X-Client-Secret": other["client_secret"]}
    assert client.get(INTERESTS, headers=other_headers).json["interests"] == []
    client.delete(f"{INTERESTS}/{created['interest_id']}", headers=other_headers, status=404)


def test_webhook_interest_returns_its_secret_once(client, service, configure, db):
    hub_settings(configure)  # HUB_ALLOW_PRIVATE_WEBHOOKS=true: a local receiver
    body = follow(transport="webhook", webhook_url="http://127.0.0.1:9999/hook")
    created = client.post_json(INTERESTS, body, headers=service, status=201).json
    secret = created["webhook_secret"]
    row = db(db.hub_interest.interest_id == created["interest_id"]).select().first()
    assert secret not in row.webhook_secret and crypto.decrypt(row.webhook_secret) == secret
    assert secret not in client.get(INTERESTS, headers=service).text


@pytest.mark.parametrize(("payload", "field"), [
    ([], "body"),
    (follow(colour="red"), "colour"),
    (follow(event_type="channel.nope"), "event_type"),
    (follow(event_type=None), "event_type"),
    (follow(broadcaster_user_id="abc"), "broadcaster_user_id"),
    (follow(transport="carrier-pigeon"), "transport"),
    (follow(transport="webhook"), "webhook_url"),
    (follow(transport="webhook", webhook_url="ftp://example.com/x"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://127.0.0.1:8080/hook"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://10.1.2.3/hook"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://[::1]/hook"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://169.254.169.254/latest"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://[::7f00:1]/hook"), "webhook_url"),  # IPv4-compatible
    (follow(transport="webhook", webhook_url="http://[64:ff9b::7f00:1]/hook"), "webhook_url"),  # NAT64
    (follow(transport="webhook", webhook_url="http://[64:ff9b::a9fe:a9fe]/latest"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://192.0.0.170/hook"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://[x/hook"), "webhook_url"),
    (follow(transport="webhook", webhook_url="http://example.com:99999/hook"), "webhook_url"),
    (follow(webhook_url="https://93.184.216.34/hook"), "webhook_url"),
    (follow(bot_account_id="ghost"), "bot_account_id"),
])
def test_invalid_interests_are_422_naming_the_field(client, service, db, payload, field):
    answer = client.post_json(INTERESTS, payload, headers=service, status=422).json
    assert answer["field"] == field and answer["message"].startswith(field)
    assert not db(db.hub_interest).count()


def test_malformed_json_is_422(client, service):
    answer = client.post(INTERESTS, "{nope", headers={**service, "Content-Type": "application/json"}, status=422)
    assert answer.json["field"] == "body"


def test_public_webhook_urls_are_accepted(client, service):
    body = follow(transport="webhook", webhook_url="https://93.184.216.34/hook")
    assert client.post_json(INTERESTS, body, headers=service, status=201).json["webhook_url"] == body["webhook_url"]


def test_a_host_resolving_to_a_private_address_is_refused(client, service, monkeypatch):
    monkeypatch.setattr("socket.getaddrinfo", lambda *args, **kwargs: [(2, 1, 6, "", ("192.168.1.20", 443))])
    body = follow(transport="webhook", webhook_url="https://hooks.example.com/x")
    answer = client.post_json(INTERESTS, body, headers=service, status=422).json
    assert "192.168.1.20" in answer["message"] and "HUB_ALLOW_PRIVATE_WEBHOOKS" in answer["message"]


ADMIN_ROUTES = [("post", f"{ACCOUNTS}?name=x"), ("get", ACCOUNTS), ("post", f"{ACCOUNTS}/svc_x/regenerate")]
SERVICE_ROUTES = [("get", INTERESTS), ("post", INTERESTS), ("delete", f"{INTERESTS}/int_x"), ("get", BOTS)]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + SERVICE_ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-Admin-Key": "wrong"}, {"X-Client-Id": "svc_x", "X-Client-Secret": "y"}])
def test_every_route_needs_credentials(client, hub, method, path, headers):
    answer = getattr(client, method)(path, headers=headers, status=401).json
    assert answer["status"] == 401 and answer["message"]


@pytest.mark.parametrize(("method", "path"), SERVICE_ROUTES[:3])
def test_service_routes_refuse_a_wrong_secret_and_the_admin_key(client, service, admin_headers, method, path):
    getattr(client, method)(path, headers={**service, "X-Client-Secret": "wrong"}, status=401)
    getattr(client, method)(path, headers=admin_headers, status=401)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_refuse_service_credentials(client, service, method, path):
    getattr(client, method)(path, headers=service, status=401)
