"""The seed's routes: /healthz, /users, /chatters, /moderated-channels, their errors and headers."""

import gzip
import json
import os
import time

import pytest
import requests
import responses
from webob import Request, Response

from shared.helix.client import get_helix_client
from shared.registry import load_entry
from tests.apps.helix_proxy.conftest import ADMIN

USERS = b'{"data":[{"id":"141981764","login":"twitchdev","display_name":"TwitchDev"}]}'
CHATTERS = b'{"data":[{"user_id":"128393656","user_login":"smittysmithers"}],"pagination":{},"total":1}'


def check():
    """The module's health check (imported once py4web has loaded the app, so its routes register)."""
    return load_entry("apps.helix_proxy.health:check")()


def helix_error(answer) -> dict:
    assert answer.content_type == "application/json"
    return json.loads(answer.body)


def test_healthz(client):
    answer = client.get("/helix_proxy/healthz")
    assert (answer.status_int, answer.text) == (200, "ok")


def test_users_pass_helix_json_through_and_cache_it(client, twitch):
    twitch.add(responses.GET, "users", body=USERS, content_type="application/json; charset=utf-8",
               headers={"Ratelimit-Limit": "800", "Ratelimit-Remaining": "799", "Ratelimit-Reset": "1700000000"})
    first = client.get("/helix_proxy/users?id=141981764&login=twitchdev&login=other_user")
    second = client.get("/helix_proxy/users?login=other_user&id=141981764&login=twitchdev")
    assert (first.status_int, first.body, first.headers["X-Cache"]) == (200, USERS, "MISS")
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.headers["Ratelimit-Remaining"] == "799"
    assert (second.body, second.headers["X-Cache"]) == (USERS, "HIT")
    [sent] = twitch.calls("users")
    assert sent.url.endswith("?id=141981764&login=twitchdev&login=other_user")
    assert sent.headers["Authorization"] == "Bearer app-token-1"
    assert sent.headers["Client-Id"] == "app-client-id"


def test_users_with_a_callers_token_use_it_and_its_own_cache_entry(client, twitch):
    twitch.add(responses.GET, "users", body=USERS)
    client.get("/helix_proxy/users?id=1")
    mine = client.get("/helix_proxy/users?id=1", headers={"Authorization": "Bearer caller-token"})
    own_user = client.get("/helix_proxy/users", headers={"Authorization": "Bearer caller-token"})
    assert (mine.headers["X-Cache"], own_user.headers["X-Cache"]) == ("MISS", "MISS")
    assert [request.headers["Authorization"] for request in twitch.calls("users")] == [
        "Bearer app-token-1", "Bearer caller-token", "Bearer caller-token"]


@pytest.mark.parametrize("query,message", [
    ("", "missing required parameter id or login"),
    ("?id=abc", "id must be a numeric Twitch user id, got 'abc'"),
    ("?login=no%20spaces", "login must be 1-25 letters"),
    ("?" + "&".join(f"id={n}" for n in range(60)) + "&" + "&".join(f"login=u{n}" for n in range(41)),
     "at most 100 id and login parameters in total, got 101"),
])
def test_users_bad_parameters_answer_400_in_helix_shape(client, twitch, query, message):
    answer = client.get(f"/helix_proxy/users{query}", status=400)
    body = helix_error(answer)
    assert (body["error"], body["status"]) == ("Bad Request", 400)
    assert message in body["message"]
    assert twitch.calls("users") == []


def test_chatters_forward_the_callers_token_and_are_never_cached(client, twitch):
    twitch.add(responses.GET, "chat/chatters", body=CHATTERS, content_type="application/json")
    url = "/helix_proxy/chatters?broadcaster_id=123&moderator_id=456&first=1000&after=abc"
    for _ in range(2):
        answer = client.get(url, headers={"Authorization": "Bearer mod-token"})
        assert (answer.status_int, answer.body, answer.headers["X-Cache"]) == (200, CHATTERS, "BYPASS")
    sent = twitch.calls("chat/chatters")
    assert len(sent) == 2
    assert sent[0].url.endswith("?broadcaster_id=123&moderator_id=456&first=1000&after=abc")
    assert sent[0].headers["Authorization"] == "Bearer mod-token"


@pytest.mark.parametrize("query,message", [
    ("moderator_id=456", "missing required parameter broadcaster_id"),
    ("broadcaster_id=123", "missing required parameter moderator_id"),
    ("broadcaster_id=123&moderator_id=x", "moderator_id must be a numeric Twitch user id"),
    ("broadcaster_id=123&moderator_id=456&first=1001", "first must be an integer between 1 and 1000"),
    ("broadcaster_id=123&broadcaster_id=5&moderator_id=456", "broadcaster_id must be given once"),
])
def test_chatters_bad_parameters(client, twitch, query, message):
    answer = client.get(f"/helix_proxy/chatters?{query}", headers={"Authorization": "Bearer t"}, status=400)
    assert message in helix_error(answer)["message"]


@pytest.mark.parametrize("route", ["/helix_proxy/chatters?broadcaster_id=1&moderator_id=2",
                                   "/helix_proxy/moderated-channels?user_id=1"])
def test_token_scoped_routes_need_a_bearer_token(client, twitch, route):
    body = helix_error(client.get(route, status=401))
    assert body == {"error": "Unauthorized", "status": 401,
                    "message": "OAuth token is missing: send Authorization: Bearer <user access token>"}
    malformed = client.get(route, headers={"Authorization": "OAuth abc"}, status=401)
    assert "expected 'Bearer <access token>'" in helix_error(malformed)["message"]


def test_moderated_channels_are_cached_per_token(client, twitch):
    twitch.add(responses.GET, "moderation/channels", json={"data": [{"broadcaster_id": "1"}], "pagination": {}})
    url = "/helix_proxy/moderated-channels?user_id=99&first=50"
    alice = {"Authorization": "Bearer alice"}
    assert client.get(url, headers=alice).headers["X-Cache"] == "MISS"
    assert client.get(url, headers=alice).headers["X-Cache"] == "HIT"
    assert client.get(url, headers={"Authorization": "Bearer bob"}).headers["X-Cache"] == "MISS"
    assert len(twitch.calls("moderation/channels")) == 2
    bad = client.get("/helix_proxy/moderated-channels?first=5", headers=alice, status=400)
    assert "missing required parameter user_id" in helix_error(bad)["message"]


def test_twitch_errors_pass_through_unchanged(client, twitch):
    error = b'{"error":"Unauthorized","status":401,"message":"The ID in moderator_id must match the user ID"}'
    twitch.add(responses.GET, "chat/chatters", body=error, status=401, content_type="application/json")
    answer = client.get("/helix_proxy/chatters?broadcaster_id=1&moderator_id=2",
                        headers={"Authorization": "Bearer t"}, status=401)
    assert answer.body == error


def test_without_app_credentials_users_answer_503_naming_the_settings(client, configure):
    configure(TWITCH_APP_ID="", TWITCH_APP_SECRET="")
    body = helix_error(client.get("/helix_proxy/users?id=1", status=503))
    assert body["status"] == 503
    assert "TWITCH_APP_ID" in body["message"] and "TWITCH_APP_SECRET" in body["message"]


def test_rejected_app_credentials_answer_503(client, twitch):
    twitch.mock.replace(responses.POST, "https://id.test/oauth2/token", status=403,
                        json={"status": 403, "message": "invalid client secret"})
    body = helix_error(client.get("/helix_proxy/users?id=1", status=503))
    assert "invalid client secret" in body["message"] and "TWITCH_APP_SECRET" in body["message"]


def test_quota_too_far_away_answers_503_with_retry_after(client, twitch, configure):
    configure(RATE_LIMIT_MAX_WAIT_S="0")
    twitch.add(responses.GET, "users", json={"data": []},
               headers={"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(time.time()) + 20)})
    client.get("/helix_proxy/users?id=1")
    refused = client.get("/helix_proxy/users?id=2", status=503)
    assert 19 <= int(refused.headers["Retry-After"]) <= 21
    assert "RATE_LIMIT_MAX_WAIT_S" in helix_error(refused)["message"]
    assert client.get("/helix_proxy/users?id=1").headers["X-Cache"] == "HIT"  # the cache still answers


def test_open_breaker_answers_503_with_retry_after(client, twitch, configure):
    configure(HELIX_BREAKER_THRESHOLD="1", HELIX_BREAKER_COOLDOWN_S="45", HELIX_MAX_RETRIES="1")
    twitch.add(responses.GET, "users", body=requests.ConnectionError("refused"))
    client.get("/helix_proxy/users?id=1", status=503)
    assert check().status == "degraded"
    refused = client.get("/helix_proxy/users?id=1", status=503)
    assert refused.headers["Retry-After"] in ("44", "45")
    assert "calls paused" in helix_error(refused)["message"]
    assert len(twitch.calls("users")) == 1


def test_gzip_when_the_client_accepts_it(wsgi_app, twitch):
    twitch.add(responses.GET, "users", body=USERS)

    def get(accept_encoding: str) -> Response:  # WebOb, not WebTest: WebTest would decode the gzip
        return Request.blank("/helix_proxy/users?id=1", headers={**ADMIN, "Accept-Encoding": accept_encoding},
                             remote_addr="127.0.0.1").get_response(wsgi_app)

    zipped = get("gzip, deflate")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == USERS
    plain = get("gzip;q=0, identity")
    assert "Content-Encoding" not in plain.headers and plain.body == USERS


def test_one_log_line_per_request_without_the_token(client, twitch, caplog):
    twitch.add(responses.GET, "moderation/channels", json={"data": []})
    with caplog.at_level("INFO", logger="apps.helix_proxy"):
        client.get("/helix_proxy/moderated-channels?user_id=1", headers={"Authorization": "Bearer secret-token"})
    lines = [record.getMessage() for record in caplog.records if record.name == "apps.helix_proxy"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /helix_proxy/moderated-channels client=127.0.0.1 status=200 duration=")
    assert lines[0].endswith("cache=MISS")
    assert "secret-token" not in caplog.text


def test_metrics_expose_the_pipeline_and_route_counts(client, twitch):
    twitch.add(responses.GET, "users", json={"data": []})
    client.get("/helix_proxy/users?id=1")
    text = client.get("/metrics").text
    for name in ("waddlebot_helix_upstream_seconds_bucket", "waddlebot_helix_cache_total",
                 "waddlebot_helix_rate_limit_waits_total", "waddlebot_helix_ratelimit_remaining",
                 "waddlebot_helix_breaker_state"):
        assert name in text
    assert 'route="/helix_proxy/users"' in text


def test_health_reports_the_breaker(client, twitch):
    assert check().status == "ok"
    get_helix_client().breaker.record_failure()
    assert check().data["consecutive_failures"] == 1


def test_redis_down_answers_503_naming_redis_url(client, twitch, configure):
    working = os.environ["REDIS_URL"]
    configure(REDIS_URL="redis://127.0.0.1:1/0")
    try:
        refused = client.get("/helix_proxy/users?id=1", status=503)
    finally:
        configure(REDIS_URL=working)  # the suite's cleanup talks to the real Redis (or none)
    assert "REDIS_URL" in helix_error(refused)["message"]
    assert refused.headers["Retry-After"] == "1"
