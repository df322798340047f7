"""/helix_proxy/helix/<path>: a drop-in Helix base URL for Twitch libraries."""

import json

import pytest
import responses

BASE = "/helix_proxy/helix"


def test_get_is_forwarded_with_query_and_token_and_cached(client, twitch):
    body = b'{"data":[{"id":"1","name":"Just Chatting"}]}'
    twitch.add(responses.GET, "users", body=body, content_type="application/json",
               headers={"Ratelimit-Limit": "800", "Ratelimit-Remaining": "42", "Ratelimit-Reset": "1700000000"})
    headers = {"Authorization": "Bearer lib-token", "Client-Id": "lib-client-id"}
    first = client.get(f"{BASE}/users?id=1&id=2&login=x", headers=headers)
    second = client.get(f"{BASE}/users?id=1&id=2&login=x", headers=headers)
    assert (first.status_int, first.body, first.headers["X-Cache"]) == (200, body, "MISS")
    assert first.headers["Ratelimit-Remaining"] == "42"
    assert second.headers["X-Cache"] == "HIT"
    [sent] = twitch.calls("users")
    assert sent.url.endswith("/users?id=1&id=2&login=x")
    assert (sent.headers["Authorization"], sent.headers["Client-Id"]) == ("Bearer lib-token", "lib-client-id")


def test_client_id_is_added_when_absent(client, twitch):
    twitch.add(responses.GET, "streams", json={"data": []})
    client.get(f"{BASE}/streams?first=1", headers={"Authorization": "Bearer lib-token"})
    client.get(f"{BASE}/streams?first=1")
    with_token, without = twitch.calls("streams")
    assert (with_token.headers["Client-Id"], with_token.headers["Authorization"]) == (
        "app-client-id", "Bearer lib-token")
    assert (without.headers["Client-Id"], without.headers["Authorization"]) == ("app-client-id", "Bearer app-token-1")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_method_forwards_its_body(client, twitch, method):
    payload = {"type": "channel.follow", "version": "2"}
    twitch.add(method, "eventsub/subscriptions", json={"data": [{"id": "sub-1"}]}, status=202)
    answer = client.request(f"{BASE}/eventsub/subscriptions?broadcaster_id=5", method=method,
                            body=json.dumps(payload).encode(),
                            headers={"Authorization": "Bearer lib-token", "Content-Type": "application/json"})
    assert (answer.status_int, answer.json, answer.headers["X-Cache"]) == (202, {"data": [{"id": "sub-1"}]}, "BYPASS")
    [sent] = twitch.calls("eventsub/subscriptions")
    assert sent.method == method
    assert sent.url.endswith("?broadcaster_id=5")
    assert json.loads(sent.body) == payload
    assert sent.headers["Content-Type"] == "application/json"


def test_helix_errors_and_empty_answers_pass_through(client, twitch):
    twitch.add(responses.DELETE, "eventsub/subscriptions", status=204)
    twitch.add(responses.GET, "games", status=400, json={"error": "Bad Request", "status": 400,
                                                          "message": "Missing required parameter \"id\""})
    deleted = client.delete(f"{BASE}/eventsub/subscriptions?id=abc", headers={"Authorization": "Bearer t"})
    assert (deleted.status_int, deleted.body) == (204, b"")
    missing = client.get(f"{BASE}/games", status=400)
    assert missing.json["message"] == 'Missing required parameter "id"'


def test_not_a_helix_path_is_refused(client, twitch):
    answer = client.get(f"{BASE}/users/..%2Ftoken", status=404)
    assert answer.json["status"] == 404 and "not a Helix endpoint path" in answer.json["message"]
    assert len(twitch.mock.calls) == 0


def test_without_client_id_anywhere_the_proxy_says_what_to_set(client, configure):
    configure(TWITCH_APP_ID="", TWITCH_APP_SECRET="")
    answer = client.get(f"{BASE}/streams", headers={"Authorization": "Bearer t"}, status=503)
    assert "TWITCH_APP_ID" in answer.json["message"] and "Client-Id" in answer.json["message"]
