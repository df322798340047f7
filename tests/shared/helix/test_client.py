"""The Helix pipeline: cache scoping, coalescing, rate limits, retries, breaker, token renewal."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
import responses
from prometheus_client import REGISTRY, generate_latest

from shared import tokens
from shared.helix.breaker import CLOSED, HALF_OPEN, OPEN
from shared.helix.client import (
    HelixClient,
    HelixError,
    HelixUnavailable,
    get_helix_client,
    helix_paginate,
    helix_request,
)
from shared.registry import NotConfigured

HELIX = "https://helix.test/helix"
ID = "https://id.test/oauth2"
SETTINGS = {"TWITCH_APP_ID": "app-client-id", "TWITCH_APP_SECRET": "app-secret", "TWITCH_HELIX_URL": HELIX,
            "TWITCH_ID_URL": ID}
RATELIMIT_OK = {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "799", "Ratelimit-Reset": "1"}


@dataclass
class Rig:
    client: HelixClient
    mock: responses.RequestsMock
    sleeps: list[float]

    def calls(self, path: str) -> list:
        return [call for call in self.mock.calls if call.request.url.split("?")[0] == f"{HELIX}/{path}"]

    def token_calls(self) -> int:
        return sum(1 for call in self.mock.calls if call.request.url == f"{ID}/token")


@pytest.fixture
def rig(configure):
    """rig(**settings): the pipeline with mocked Twitch (app token 'app-token-1') and recorded sleeps."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        def setup(**overrides) -> Rig:
            configure(**{**SETTINGS, **overrides})
            mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token-1", "expires_in": 3600})
            client, sleeps = get_helix_client(), []
            client.sleep = sleeps.append
            return Rig(client, mock, sleeps)

        yield setup


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_users_are_cached_and_served_as_helix_sent_them(rig):
    r = rig()
    body = b'{"data":[{"id":"1","login":"alice"}]}'
    r.mock.add(responses.GET, f"{HELIX}/users", body=body, content_type="application/json", headers=RATELIMIT_OK)
    first = helix_request("GET", "users", params=[("login", "alice")])
    second = helix_request("GET", "users", params={"login": ["alice"]})
    assert (first.status, first.cache, first.body) == (200, "MISS", body)
    assert first.headers["Ratelimit-Remaining"] == "799"
    assert (second.status, second.cache, second.body) == (200, "HIT", body)
    assert second.headers == {"Content-Type": "application/json"}
    assert second.json() == {"data": [{"id": "1", "login": "alice"}]}
    assert len(r.calls("users")) == 1
    sent = r.calls("users")[0].request
    assert sent.headers["Client-Id"] == "app-client-id"
    assert sent.headers["Authorization"] == "Bearer app-token-1"


def test_cache_key_ignores_query_order_but_not_values(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/users", json={"data": []})
    helix_request("GET", "users", params=[("id", "1"), ("login", "bob")])
    assert helix_request("GET", "users", params=[("login", "bob"), ("id", "1")]).cache == "HIT"
    assert helix_request("GET", "users", params=[("id", "2"), ("login", "bob")]).cache == "MISS"
    assert len(r.calls("users")) == 2


def test_two_tokens_never_share_a_cache_entry(rig):
    r = rig()

    def own_user(request):
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return 200, {}, f'{{"data":[{{"login":"{token}"}}]}}'

    r.mock.add_callback(responses.GET, f"{HELIX}/moderation/channels", callback=own_user)
    alice = helix_request("GET", "moderation/channels", params={"user_id": "1"}, user_token="alice-token")
    bob = helix_request("GET", "moderation/channels", params={"user_id": "1"}, user_token="bob-token")
    app = helix_request("GET", "moderation/channels", params={"user_id": "1"})
    again = helix_request("GET", "moderation/channels", params={"user_id": "1"}, user_token="alice-token")
    assert [alice.cache, bob.cache, app.cache, again.cache] == ["MISS", "MISS", "MISS", "HIT"]
    assert alice.json()["data"][0]["login"] == "alice-token"
    assert bob.json()["data"][0]["login"] == "bob-token"
    assert again.json()["data"][0]["login"] == "alice-token"
    assert len(r.calls("moderation/channels")) == 3


def test_errors_and_uncached_endpoints_are_not_cached(rig):
    r = rig(HELIX_CACHE_TTLS='{"users": 0, "games": 30}')
    r.mock.add(responses.GET, f"{HELIX}/users", json={"data": []})
    r.mock.add(responses.GET, f"{HELIX}/chat/chatters", json={"data": []})
    r.mock.add(responses.GET, f"{HELIX}/games", json={"error": "Bad Request", "status": 400, "message": "no"},
               status=400)
    assert helix_request("GET", "users", params={"id": "1"}).cache == "BYPASS"
    assert helix_request("GET", "chat/chatters", user_token="t").cache == "BYPASS"
    assert helix_request("GET", "games").cache == "MISS"
    assert helix_request("GET", "games").status == 400
    helix_request("GET", "users", params={"id": "1"})
    helix_request("GET", "chat/chatters", user_token="t")
    assert [len(r.calls(path)) for path in ("users", "chat/chatters", "games")] == [2, 2, 2]


def test_concurrent_identical_misses_make_one_upstream_call(rig):
    r = rig()
    threads_count = 20
    coalesced_before = sample("waddlebot_helix_cache_total", endpoint="users", result="coalesced")
    released = threading.Event()

    def slow(request):
        # Hold the leader's call until every other caller has joined the flight.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sample(
                "waddlebot_helix_cache_total", endpoint="users", result="coalesced") < coalesced_before + 19:
            time.sleep(0.005)
        released.set()
        return 404, {}, '{"error":"Not Found","status":404,"message":"no such user"}'

    r.mock.add_callback(responses.GET, f"{HELIX}/users", callback=slow)
    results = []
    workers = [threading.Thread(target=lambda: results.append(helix_request("GET", "users", params={"id": "7"})))
               for _ in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert released.is_set()
    assert len(r.calls("users")) == 1  # a 404 is never cached: only coalescing can explain one call
    assert [result.status for result in results] == [404] * threads_count
    assert sorted(result.cache for result in results) == ["HIT"] * 19 + ["MISS"]


def test_limiter_waits_for_quota_then_refuses_with_retry_after(rig):
    r = rig(RATE_LIMIT_REQUESTS_PER_SECOND="1", RATE_LIMIT_MAX_WAIT_S="1.5")
    r.mock.add(responses.GET, f"{HELIX}/chat/chatters", json={"data": []})
    for _ in range(3):  # a burst of 2, then one a second later
        assert helix_request("GET", "chat/chatters", user_token="t").status == 200
    assert r.sleeps[0] == pytest.approx(1.0, abs=0.05)
    with pytest.raises(HelixUnavailable, match="RATE_LIMIT_MAX_WAIT_S=1.5") as refused:
        helix_request("GET", "chat/chatters", user_token="t")
    assert 1.5 < refused.value.retry_after <= 2.05  # past the longest wait; Redis' clock keeps running
    assert len(r.calls("chat/chatters")) == 3
    # another bucket (the app's) is not affected
    assert helix_request("GET", "chat/chatters").status == 200


def test_twitch_empty_bucket_pauses_calls_until_its_reset(rig):
    r = rig(RATE_LIMIT_MAX_WAIT_S="10")
    reset = int(time.time()) + 4
    r.mock.add(responses.GET, f"{HELIX}/streams", json={"data": []},
               headers={"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0", "Ratelimit-Reset": str(reset)})
    helix_request("GET", "streams")
    assert r.sleeps == []
    helix_request("GET", "streams")
    assert len(r.sleeps) == 1 and r.sleeps[0] >= reset - time.time() - 0.05
    assert sample("waddlebot_helix_ratelimit_remaining", bucket="app") == 0


def test_twitch_empty_bucket_beyond_max_wait_answers_unavailable(rig):
    r = rig(RATE_LIMIT_MAX_WAIT_S="2")
    r.mock.add(responses.GET, f"{HELIX}/streams", json={"data": []},
               headers={"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(time.time()) + 30)})
    helix_request("GET", "streams")
    with pytest.raises(HelixUnavailable) as refused:
        helix_request("GET", "streams")
    assert refused.value.retry_after > 25
    assert len(r.calls("streams")) == 1


def test_429_waits_for_the_reset_and_retries(rig):
    r = rig()
    reset = int(time.time()) + 3
    r.mock.add(responses.POST, f"{HELIX}/chat/messages", status=429,
               json={"error": "Too Many Requests", "status": 429, "message": "slow down"},
               headers={"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(reset)})
    r.mock.add(responses.POST, f"{HELIX}/chat/messages", json={"data": [{"is_sent": True}]})
    answer = helix_request("POST", "chat/messages", body=b'{"message":"hi"}',
                           headers={"Content-Type": "application/json"})
    assert answer.status == 200
    assert len(r.calls("chat/messages")) == 2
    assert r.calls("chat/messages")[1].request.body == b'{"message":"hi"}'
    assert r.sleeps[0] >= reset - time.time() - 0.05


def test_429_retries_are_bounded(rig):
    r = rig(HELIX_MAX_RETRIES="3")
    r.mock.add(responses.GET, f"{HELIX}/streams", status=429, json={"message": "slow down"})
    assert helix_request("GET", "streams").status == 429
    assert len(r.calls("streams")) == 3


def test_5xx_is_retried_with_growing_jittered_backoff(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/streams", status=502, body="bad gateway")
    r.mock.add(responses.GET, f"{HELIX}/streams", status=503, json={"message": "busy"})
    r.mock.add(responses.GET, f"{HELIX}/streams", json={"data": [1]})
    answer = helix_request("GET", "streams")
    assert (answer.status, answer.json()) == (200, {"data": [1]})
    assert len(r.calls("streams")) == 3
    assert 0.1 <= r.sleeps[0] <= 0.2 and 0.2 <= r.sleeps[1] <= 0.4


def test_5xx_after_every_try_is_returned(rig, caplog):
    r = rig(HELIX_MAX_RETRIES="2")
    r.mock.add(responses.GET, f"{HELIX}/streams", status=503, json={"message": "Twitch is busy"})
    with caplog.at_level("WARNING", logger="shared.helix.client"):
        answer = helix_request("GET", "streams")
    assert answer.status == 503 and answer.json()["message"] == "Twitch is busy"
    assert len(r.calls("streams")) == 2
    assert "answered 503: Twitch is busy" in caplog.text
    assert "app-token-1" not in caplog.text


def test_post_is_not_retried_after_a_5xx(rig):
    r = rig()
    r.mock.add(responses.POST, f"{HELIX}/eventsub/subscriptions", status=500, json={"message": "oops"})
    assert helix_request("POST", "eventsub/subscriptions", body=b"{}").status == 500
    assert len(r.calls("eventsub/subscriptions")) == 1


def test_connection_errors_are_retried_then_unavailable(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/streams", body=requests.ConnectionError("refused"))
    with pytest.raises(HelixUnavailable, match="unreachable after 3 tries"):
        helix_request("GET", "streams")
    assert len(r.calls("streams")) == 3
    assert len(r.sleeps) == 2


def test_breaker_opens_then_probes_then_closes(rig):
    r = rig(HELIX_BREAKER_THRESHOLD="2", HELIX_BREAKER_COOLDOWN_S="30", HELIX_MAX_RETRIES="1")
    now = [1000.0]
    r.client.breaker.clock = lambda: now[0]
    failing = r.mock.add(responses.GET, f"{HELIX}/streams", status=500, json={"message": "down"})
    helix_request("GET", "streams")
    assert r.client.breaker.state == CLOSED
    helix_request("GET", "streams")
    assert r.client.breaker.state == OPEN
    assert sample("waddlebot_helix_breaker_state") == 2
    with pytest.raises(HelixUnavailable) as fast:
        helix_request("GET", "streams")
    assert fast.value.retry_after == pytest.approx(30)
    assert len(r.calls("streams")) == 2  # failed fast, nothing sent

    now[0] += 31  # cooldown over: the probe fails, the breaker opens again
    helix_request("GET", "streams")
    assert (r.client.breaker.state, len(r.calls("streams"))) == (OPEN, 3)

    now[0] += 31
    r.mock.remove(failing)
    seen_during_probe = []

    def probe(request):
        seen_during_probe.append(r.client.breaker.state)
        with pytest.raises(HelixUnavailable):  # one probe only: a concurrent call fails fast
            helix_request("GET", "games")
        return 200, {}, '{"data":[]}'

    r.mock.add_callback(responses.GET, f"{HELIX}/streams", callback=probe)
    assert helix_request("GET", "streams").status == 200
    assert seen_during_probe == [HALF_OPEN]
    assert r.client.breaker.state == CLOSED
    assert sample("waddlebot_helix_breaker_state") == 0


def test_app_token_is_renewed_once_after_a_401(rig):
    r = rig()
    r.mock.replace(responses.POST, f"{ID}/token", json={"access_token": "app-token-1", "expires_in": 3600})
    r.mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token-2", "expires_in": 3600})

    def by_token(request):
        if request.headers["Authorization"] == "Bearer app-token-2":
            return 200, {}, '{"data":[{"id":"1"}]}'
        return 401, {}, '{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}'

    r.mock.add_callback(responses.GET, f"{HELIX}/users", callback=by_token)
    answer = helix_request("GET", "users", params={"id": "1"})
    assert answer.status == 200
    assert r.token_calls() == 2
    assert len(r.calls("users")) == 2


def test_401s_renew_the_app_token_once_per_floor_across_threads(rig, monkeypatch):
    """Anyone who can make Helix answer 401 (an endpoint that needs a user token) must not make us
    fetch app tokens: concurrent 401s share one renewal, later ones wait for the floor."""
    monkeypatch.setattr(tokens, "APP_TOKEN_RENEW_FLOOR", 3600.0)
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/channels/commercial", status=401,
               json={"error": "Unauthorized", "status": 401, "message": "user token required"})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: helix_request("GET", "channels/commercial", cache_ttl=0), range(40)))
    assert {answer.status for answer in answers} == {401}
    assert r.token_calls() == 2  # the first token and one renewal


def test_unknown_helix_paths_share_one_metric_label(rig):
    r = rig()
    paths = [f"made/up/path{number}" for number in range(3)] + ["nope"]
    for path in paths:
        r.mock.add(responses.GET, f"{HELIX}/{path}", status=404, json={"error": "Not Found"})
        helix_request("GET", path, cache_ttl=0)
    text = generate_latest(REGISTRY).decode()
    assert not any(path in text for path in paths)
    assert 'endpoint="other"' in text


def test_app_token_401_twice_is_returned(rig):
    r = rig()
    r.mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token-2", "expires_in": 3600})
    r.mock.add(responses.GET, f"{HELIX}/users", status=401, json={"message": "Invalid OAuth token"})
    assert helix_request("GET", "users", params={"id": "1"}).status == 401
    assert (r.token_calls(), len(r.calls("users"))) == (2, 2)


def test_a_callers_401_passes_through_untouched(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/moderation/channels", status=401,
               json={"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"})
    answer = helix_request("GET", "moderation/channels", params={"user_id": "1"}, user_token="expired")
    assert answer.status == 401 and answer.json()["message"] == "Invalid OAuth token"
    assert (r.token_calls(), len(r.calls("moderation/channels"))) == (0, 1)


def test_callers_client_id_is_kept_with_its_token_but_never_with_the_app_token(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/streams", json={"data": []})
    helix_request("GET", "streams", headers={"Client-Id": "their-app"}, user_token="their-token")
    helix_request("GET", "streams", headers={"Client-Id": "their-app"})
    first, second = (call.request.headers for call in r.calls("streams"))
    assert (first["Client-Id"], first["Authorization"]) == ("their-app", "Bearer their-token")
    assert (second["Client-Id"], second["Authorization"]) == ("app-client-id", "Bearer app-token-1")


def test_without_app_credentials_the_app_token_is_not_configured(rig):
    rig(TWITCH_APP_ID="", TWITCH_APP_SECRET="")
    with pytest.raises(NotConfigured, match="TWITCH_APP_ID"):
        helix_request("GET", "users", params={"id": "1"})


def test_paginate_follows_the_cursor(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/eventsub/subscriptions",
               json={"data": [{"id": "a"}, {"id": "b"}], "pagination": {"cursor": "c1"}})
    r.mock.add(responses.GET, f"{HELIX}/eventsub/subscriptions", json={"data": [{"id": "c"}], "pagination": {}})
    items = list(helix_paginate("eventsub/subscriptions", params={"status": "enabled"}))
    assert [item["id"] for item in items] == ["a", "b", "c"]
    second = r.calls("eventsub/subscriptions")[1].request.url
    assert "status=enabled" in second and "after=c1" in second


def test_paginate_raises_on_an_error_page(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/eventsub/subscriptions", status=403, json={"message": "missing scope"})
    with pytest.raises(HelixError, match="403: missing scope"):
        list(helix_paginate("eventsub/subscriptions", user_token="t"))


def test_metrics_count_hits_misses_and_upstream_latency(rig):
    r = rig()
    r.mock.add(responses.GET, f"{HELIX}/users", json={"data": []})
    hits, misses = (sample("waddlebot_helix_cache_total", endpoint="users", result=name) for name in ("hit", "miss"))
    latency = sample("waddlebot_helix_upstream_seconds_count", endpoint="users", method="GET", status="200")
    helix_request("GET", "users", params={"id": "5"})
    helix_request("GET", "users", params={"id": "5"})
    assert sample("waddlebot_helix_cache_total", endpoint="users", result="hit") == hits + 1
    assert sample("waddlebot_helix_cache_total", endpoint="users", result="miss") == misses + 1
    assert sample("waddlebot_helix_upstream_seconds_count", endpoint="users", method="GET",
                  status="200") == latency + 1
