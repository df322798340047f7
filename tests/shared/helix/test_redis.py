"""Two proxy instances sharing the real Redis: one rate-limit bucket, one cache, one fetch per miss."""

import os
import threading
import time

import pytest
import redis
import responses

from shared import redis_client
from shared.cache import NearCache, get_cache
from shared.helix.cache import cache_key, encode_entry
from shared.helix.client import HelixCall, HelixClient, HelixUnavailable
from shared.ratelimit import RedisRateLimiter

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL is not set")

HELIX = "https://helix.test/helix"
ID = "https://id.test/oauth2"


@pytest.fixture
def instances(configure):
    """Two pipelines as two replicas would have them: each its own Redis connection and limiter."""
    settings = configure(TWITCH_APP_ID="app-client-id", TWITCH_APP_SECRET="app-secret", TWITCH_HELIX_URL=HELIX,
                         TWITCH_ID_URL=ID, RATE_LIMIT_REQUESTS_PER_SECOND="1", RATE_LIMIT_MAX_WAIT_S="0")
    pipelines = []
    for _ in range(2):
        limiter = RedisRateLimiter(redis.Redis.from_url(os.environ["TEST_REDIS_URL"]))
        pipeline = HelixClient(settings, limiter=limiter)
        pipeline.sleep = lambda seconds: None
        pipelines.append(pipeline)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield pipelines, mock


def chatters(token: str = "mod-token") -> HelixCall:
    return HelixCall("GET", "chat/chatters", [("broadcaster_id", "1"), ("moderator_id", "2")], None, {}, token)


def test_two_limiter_instances_draw_from_one_bucket(configure):
    url = os.environ["TEST_REDIS_URL"]
    configure()
    first, second = (RedisRateLimiter(redis.Redis.from_url(url)) for _ in range(2))
    assert first.reserve("helix:user:x", rate=1, burst=2, max_wait=0).granted
    assert second.reserve("helix:user:x", rate=1, burst=2, max_wait=0).granted
    assert not first.reserve("helix:user:x", rate=1, burst=2, max_wait=0).granted
    assert not second.reserve("helix:user:x", rate=1, burst=2, max_wait=0).granted
    assert second.reserve("helix:user:other", rate=1, burst=2, max_wait=0).granted


def test_two_proxy_instances_share_the_twitch_bucket(instances):
    (one, two), mock = instances
    mock.add(responses.GET, f"{HELIX}/chat/chatters", json={"data": []})
    assert one.request(chatters()).status == 200
    assert two.request(chatters()).status == 200  # burst of 2 = twice the rate, used up by both together
    for pipeline in (one, two):
        with pytest.raises(HelixUnavailable, match="RATE_LIMIT_MAX_WAIT_S"):
            pipeline.request(chatters())
    assert len(mock.calls) == 2
    assert two.request(chatters("another-user")).status == 200


def test_twitchs_empty_bucket_seen_by_one_instance_pauses_the_other(instances):
    (one, two), mock = instances
    mock.add(responses.GET, f"{HELIX}/chat/chatters", json={"data": []},
             headers={"Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(time.time()) + 30)})
    one.request(chatters())
    with pytest.raises(HelixUnavailable) as refused:
        two.request(chatters())
    assert refused.value.retry_after > 25


def test_an_answer_cached_by_one_instance_serves_the_other(instances):
    (one, two), mock = instances
    mock.add(responses.GET, f"{HELIX}/users", json={"data": [{"id": "1"}]})
    mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token", "expires_in": 3600})
    call = HelixCall("GET", "users", [("id", "1")], None, {}, None)
    assert one.request(call).cache == "MISS"
    assert list(redis_client.get_redis().scan_iter(match=redis_client.key("helix-lock", "*"))) == []
    assert two.request(call).cache == "HIT"
    assert len([c for c in mock.calls if c.request.url.startswith(HELIX)]) == 1


def test_an_instance_waits_for_the_replica_already_fetching_the_same_miss(instances):
    (one, two), mock = instances
    mock.add(responses.GET, f"{HELIX}/moderation/channels", json={"data": []})
    call = HelixCall("GET", "moderation/channels", [("user_id", "9")], None, {}, "mod-token")
    key = cache_key("GET", "moderation/channels", call.params, two._scope(call)[0])
    lock = redis_client.key("helix-lock", key)
    redis_client.get_redis().set(lock, b"1", px=5000)  # another replica is fetching it

    def other_replica_finishes():
        time.sleep(0.1)
        get_cache("helix").set(key, encode_entry(200, {"Content-Type": "application/json"}, b'{"data":[9]}'), 60)
        redis_client.get_redis().delete(lock)

    finisher = threading.Thread(target=other_replica_finishes)
    finisher.start()
    answer = two.request(call)
    finisher.join()
    assert (answer.cache, answer.body) == ("HIT", b'{"data":[9]}')
    assert len(mock.calls) == 0


def test_an_instance_that_gets_the_lock_just_after_another_finished_uses_its_answer(instances, monkeypatch):
    """Replica two misses; before it takes the lock, replica one fetches, stores and lets the
    lock go: two then finds the answer in the cache instead of fetching it again."""
    (one, two), mock = instances
    mock.add(responses.GET, f"{HELIX}/users", json={"data": [{"id": "3"}]})
    mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token", "expires_in": 3600})
    call = HelixCall("GET", "users", [("id", "3")], None, {}, None)
    raced, get_or_lock = [], NearCache.get_or_lock

    def one_finishes_first(cache, *args):
        if not raced:
            raced.append("racing")
            raced[0] = one.request(call).cache
        return get_or_lock(cache, *args)

    monkeypatch.setattr(NearCache, "get_or_lock", one_finishes_first)
    assert two.request(call).cache == "HIT"
    assert raced == ["MISS"]
    assert len([c for c in mock.calls if c.request.url.startswith(HELIX)]) == 1
    assert list(redis_client.get_redis().scan_iter(match=redis_client.key("helix-lock", "*"))) == []


def test_an_error_answer_is_not_cached_and_lets_the_lock_go(instances):
    (one, two), mock = instances
    mock.add(responses.GET, f"{HELIX}/users", status=404, json={"error": "Not Found", "status": 404, "message": "x"})
    mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token", "expires_in": 3600})
    call = HelixCall("GET", "users", [("id", "4")], None, {}, None)
    assert (one.request(call).status, two.request(call).status) == (404, 404)
    assert len([c for c in mock.calls if c.request.url.startswith(HELIX)]) == 2
    assert list(redis_client.get_redis().scan_iter(match=redis_client.key("helix-lock", "*"))) == []


def test_an_answer_another_process_stored_is_served_without_a_lock(instances):
    (_, two), mock = instances
    call = HelixCall("GET", "users", [("id", "5")], None, {}, None)
    key = cache_key("GET", "users", call.params, two._scope(call)[0])
    get_cache("helix").set(key, encode_entry(200, {"Content-Type": "application/json"}, b'{"data":[5]}'), 60)
    answer = two.request(call)
    assert (answer.cache, answer.body) == ("HIT", b'{"data":[5]}')
    assert len(mock.calls) == 0
    assert list(redis_client.get_redis().scan_iter(match=redis_client.key("helix-lock", "*"))) == []
