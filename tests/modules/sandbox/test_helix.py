"""The fake Helix: Twitch's field names, status codes, error bodies and Ratelimit-* headers."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from modules.sandbox.helix import FakeHelix
from modules.sandbox.twitch_id import FakeTwitchId
from modules.sandbox.web import Request
from tests.waiting import Clock


@pytest.fixture
def twitch():
    clock = Clock(1_700_000_000.0)
    ids = FakeTwitchId(clock=clock)
    helix = FakeHelix(client_id=ids.client_id, id_server=ids, clock=clock, page_size=2)
    app_token = ids.issue(None).access
    user_token = ids.issue("1001", ("moderator:read:chatters",)).access

    def call(method: str, path: str, token: str | None = app_token, body: dict | None = None, client_id=ids.client_id):
        headers = {"Client-Id": client_id} if client_id else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return helix.handle(Request.from_url(method, f"http://127.0.0.1/helix/{path}", headers,
                                             json.dumps(body) if body else None))

    return helix, call, clock, user_token


def test_users_by_id_and_login_or_the_token_owner(twitch):
    helix, call, _, user_token = twitch
    answer = call("GET", "users?id=999&login=WADDLE_STREAMER")
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    users = {user["login"]: user for user in answer.json()["data"]}
    assert set(users) == {"waddlebot", "waddle_streamer"}
    assert set(users["waddlebot"]) >= {"id", "login", "display_name", "type", "broadcaster_type", "description",
                                       "profile_image_url", "offline_image_url", "created_at"}
    assert call("GET", "users", token=user_token).json()["data"][0]["id"] == "1001"
    refused = call("GET", "users")  # an app token names nobody
    assert refused.status == 400 and refused.json()["error"] == "Bad Request"


@pytest.mark.parametrize(("token", "client_id", "message"), [
    (None, "sandbox-client-id", "OAuth token is missing"),
    ("not-a-token", "sandbox-client-id", "Invalid OAuth token"),
    ("app", "", "Client-Id header required"),
])
def test_unauthorized_requests_get_twitchs_error_body(twitch, token, client_id, message):
    helix, call, _, _ = twitch
    token = helix.id_server.issue(None).access if token == "app" else token
    answer = call("GET", "users?id=1", token=token, client_id=client_id)
    assert answer.status == 401 and answer.json() == {"error": "Unauthorized", "status": 401, "message": message}


def test_ratelimit_headers_count_down_and_429_when_the_bucket_is_empty(twitch):
    helix, call, clock, _ = twitch
    helix.bucket_points = 3
    remaining = [call("GET", "users?id=1").headers["Ratelimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = call("GET", "users?id=1")
    assert refused.status == 429 and refused.headers["Ratelimit-Limit"] == "3"
    assert int(refused.headers["Ratelimit-Reset"]) > clock.now
    clock.now = float(refused.headers["Ratelimit-Reset"])
    assert call("GET", "users?id=1").status == 200


def test_chatters_moderated_channels_and_streams(twitch):
    helix, call, _, user_token = twitch
    helix.chatters["1001"] = [helix.id_server.users["2001"], helix.id_server.users["2002"],
                              helix.id_server.users["2003"]]
    first = call("GET", "chat/chatters?broadcaster_id=1001&moderator_id=1001&first=2", token=user_token).json()
    assert first["total"] == 3 and [item["user_login"] for item in first["data"]] == ["penguin_pat", "iceberg_ida"]
    rest = call("GET", f"chat/chatters?broadcaster_id=1001&moderator_id=1001&after={first['pagination']['cursor']}",
                token=user_token).json()
    assert [item["user_id"] for item in rest["data"]] == ["2003"] and rest["pagination"] == {}
    assert call("GET", "chat/chatters?broadcaster_id=1001").status == 400
    moderated = call("GET", "moderation/channels?user_id=999").json()["data"]
    assert moderated == [{"broadcaster_id": "1001", "broadcaster_login": "waddle_streamer",
                          "broadcaster_name": "Waddle_streamer"}]
    assert call("GET", "streams?user_login=waddle_streamer").json()["data"] == []
    helix.live["waddle_streamer"] = 321
    stream = call("GET", "streams?user_login=waddle_streamer").json()["data"][0]
    assert stream["viewer_count"] == 321 and stream["type"] == "live" and stream["user_id"] == "1001"


def test_eventsub_subscriptions_create_list_page_conflict_and_delete(twitch):
    helix, call, _, user_token = twitch
    verified = threading.Event()
    helix.verifier = lambda subscription, secret: verified.set() or secret == "s3cret-s3cret"
    body = {"type": "channel.follow", "version": "2",
            "condition": {"broadcaster_user_id": "1001", "moderator_user_id": "1001"},
            "transport": {"method": "webhook", "callback": "https://example.com/cb", "secret": "s3cret-s3cret"}}
    created = call("POST", "eventsub/subscriptions", body=body)
    assert created.status == 202
    subscription = created.json()["data"][0]
    assert subscription["status"] == "webhook_callback_verification_pending"
    assert "secret" not in subscription["transport"]
    assert verified.wait(5)
    assert call("POST", "eventsub/subscriptions", body=body).status == 409
    websocket = dict(body, type="channel.cheer", version="1", condition={"broadcaster_user_id": "1001"},
                     transport={"method": "websocket", "session_id": "abc"})
    assert call("POST", "eventsub/subscriptions", token=user_token, body=websocket).json()["data"][0][
        "status"] == "enabled"
    helix.add("stream.online", "1", {"broadcaster_user_id": "1001"})
    page = call("GET", "eventsub/subscriptions").json()
    assert len(page["data"]) == 2 and page["total"] == 3 and page["pagination"]["cursor"]
    assert len(call("GET", f"eventsub/subscriptions?after={page['pagination']['cursor']}").json()["data"]) == 1
    assert call("DELETE", f"eventsub/subscriptions?id={subscription['id']}").status == 204
    missing = call("DELETE", f"eventsub/subscriptions?id={subscription['id']}")
    assert missing.status == 404 and missing.json()["message"] == "subscription not found"


def test_refusals_and_bad_bodies(twitch):
    helix, call, _, _ = twitch
    helix.refusals["channel.ban"] = (403, "subscription missing proper authorization")
    refused = call("POST", "eventsub/subscriptions", body={"type": "channel.ban", "version": "1", "condition": {},
                                                           "transport": {"method": "websocket", "session_id": "x"}})
    assert refused.status == 403 and refused.json()["error"] == "Forbidden"
    assert call("POST", "eventsub/subscriptions", body={"type": "channel.ban"}).status == 400
    plain_http = {"type": "channel.cheer", "version": "1", "condition": {},
                  "transport": {"method": "webhook", "callback": "http://example.com/cb", "secret": "0123456789"}}
    assert call("POST", "eventsub/subscriptions", body=plain_http).status == 400
    assert call("GET", "nothing/here").status == 404


def test_a_started_fake_checks_registered_tokens_and_serves_validate_on_its_port():
    helix = FakeHelix(client_id="cid").start()
    try:
        helix.user_token("user-token", "1001", "user:read:chat")
        helix.app_token("app-token")
        validated = requests.get(helix.url.removesuffix("/helix") + "/oauth2/validate",
                                 headers={"Authorization": "OAuth user-token"}, timeout=5)
        assert validated.status_code == 200
        assert (validated.json()["user_id"], validated.json()["login"]) == ("1001", "waddle_streamer")

        def subscribe(token: str) -> requests.Response:
            return requests.post(f"{helix.url}/eventsub/subscriptions", json={
                "type": "channel.cheer", "version": "1", "condition": {"broadcaster_user_id": "1001"},
                "transport": {"method": "websocket", "session_id": "s-1"}},
                headers={"Client-Id": "cid", "Authorization": f"Bearer {token}"}, timeout=5)

        assert subscribe("unknown").status_code == 401
        refused = subscribe("app-token")
        assert refused.status_code == 400 and "user access token" in refused.json()["message"]
        assert subscribe("user-token").status_code == 202
        assert helix.requests == [("POST", "eventsub/subscriptions")] * 3
    finally:
        helix.close()
