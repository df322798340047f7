"""The cache-hit lane: hits answered before py4web routes them, exactly as the routes answer them."""

import gc
import io
import re
import sys

import pytest
import responses
from webob import Request

import shared.web
from apps.helix_proxy.controllers import cache_hits
from tests.apps.helix_proxy.conftest import ADMIN

USERS = b'{"data":[{"id":"141981764","login":"twitchdev","display_name":"TwitchDev"}]}'
TOKEN = {"Authorization": "Bearer caller-token"}

#: (path and query, request headers) of GETs whose answers the proxy caches
CACHED_GETS = [
    ("/helix_proxy/users?id=141981764&login=twitchdev", {}),
    ("/helix_proxy/users", TOKEN),
    ("/helix_proxy/users?id=1", {"Accept-Encoding": "gzip"}),
    ("/helix_proxy/moderated-channels?user_id=1", TOKEN),
    ("/helix_proxy/helix/users?login=twitchdev", {"Client-Id": "another-client"}),
]


@pytest.fixture
def helix(twitch):
    twitch.add(responses.GET, "users", body=USERS, content_type="application/json; charset=utf-8",
               headers={"Ratelimit-Remaining": "799"})
    twitch.add(responses.GET, "moderation/channels", json={"data": [{"broadcaster_id": "2"}]})
    return twitch


def get(app, target: str, headers: dict):
    """A WebOb response (WebTest would decode gzip); the body read in full."""
    return Request.blank(target, headers={**ADMIN, **headers}, remote_addr="127.0.0.1").get_response(app)


def environ(target: str, method: str = "GET", headers: dict | None = None) -> dict:
    return Request.blank(target, method=method, headers={**ADMIN, **(headers or {})}, remote_addr="127.0.0.1").environ


def counted(client) -> tuple[float, float]:
    """(requests answered 200 on the users route, Helix cache hits of users) from /metrics."""
    text = client.get("/metrics").text

    def value(series: str) -> float:
        found = re.search(re.escape(series) + r" (\S+)", text)
        return float(found.group(1)) if found else 0.0

    return (value('waddlebot_http_requests_total{app="helix_proxy",method="GET",route="/helix_proxy/users",'
                  'status="200"}'),
            value('waddlebot_helix_cache_total{endpoint="users",result="hit"}'))


@pytest.mark.parametrize("target,headers", CACHED_GETS)
def test_a_hit_from_the_lane_is_the_routes_answer(wsgi_app, helix, monkeypatch, target, headers):
    miss = get(wsgi_app, target, headers)
    assert miss.headers["X-Cache"] == "MISS"
    upstream_calls = len(helix.mock.calls)
    assert cache_hits(environ(target, headers=headers)) is not None  # the lane has it now
    from_lane = get(wsgi_app, target, headers)
    monkeypatch.setattr(shared.web, "_lanes", {})
    from_route = get(wsgi_app, target, headers)
    assert from_lane.status == from_route.status == "200 OK"
    assert sorted(from_lane.headerlist) == sorted(from_route.headerlist)
    assert from_lane.body == from_route.body
    assert from_lane.headers["X-Cache"] == "HIT"
    assert len(helix.mock.calls) == upstream_calls  # neither hit went upstream


@pytest.mark.parametrize("target,method,headers", [
    ("/helix_proxy/users?id=5", "GET", {}),  # not cached yet
    ("/helix_proxy/users?id=141981764", "POST", {}),
    ("/helix_proxy/users?id=141981764&id=", "GET", {}),  # bad input: the route answers 400
    ("/helix_proxy/moderated-channels?user_id=1", "GET", {}),  # no token: the route answers 401
    ("/helix_proxy/users?id=141981764", "GET", {"Authorization": "Basic abc"}),
    ("/helix_proxy/helix/..%2Fusers?id=141981764", "GET", {}),
    ("/helix_proxy/chatters?broadcaster_id=1&moderator_id=1", "GET", TOKEN),  # never cached
    ("/helix_proxy/healthz", "GET", {}),
])
def test_the_lane_leaves_misses_errors_and_other_methods_to_the_routes(wsgi_app, helix, target, method, headers):
    get(wsgi_app, "/helix_proxy/users?id=141981764", {})
    assert cache_hits(environ("/helix_proxy/users?id=141981764")) is not None
    assert cache_hits(environ(target, method, headers)) is None


def test_lane_hits_are_counted_and_logged_like_route_answers(client, helix, configure, caplog):
    configure(TRUST_PROXY_HEADERS="true")
    client.get("/helix_proxy/users?id=1")
    before = counted(client)
    caplog.clear()  # the first call (a miss) is logged too when an earlier test left the root logger at INFO
    with caplog.at_level("INFO", logger="apps.helix_proxy"):
        hits = [client.get("/helix_proxy/users?id=1", headers={"X-Real-IP": "203.0.113.9"}) for _ in range(2)]
    assert [hit.headers["X-Cache"] for hit in hits] == ["HIT", "HIT"]
    assert counted(client) == (before[0] + 2, before[1] + 2)
    lines = [record.getMessage() for record in caplog.records if record.name == "apps.helix_proxy"]
    assert len(lines) == 2
    assert lines[-1].startswith("GET /helix_proxy/users client=203.0.113.9 status=200 duration=")
    assert lines[-1].endswith("cache=HIT")


def test_requests_leave_no_reference_cycles_for_the_garbage_collector(wsgi_app, helix):
    def call(query: str) -> None:
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/helix_proxy/users", "QUERY_STRING": query,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
               "wsgi.errors": sys.stderr}
        b"".join(wsgi_app(env, lambda status, headers, exc_info=None: None))

    call("id=1")
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            call("id=1")  # a hit, from the lane
            call("id=")  # a 400, from the route through py4web
        assert gc.collect() < 50  # before: 4 objects per request (the environ and ombott's view of it)
    finally:
        gc.enable()
