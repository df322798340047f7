import datetime
import json

import pytest
from py4web.core import Reloader

from shared.db import utcnow
from tests.conftest import TEST_ENV


@pytest.fixture
def client(wsgi_app):
    """An admin's client (X-Admin-Key): /health shows it the components and modules."""
    from webtest import TestApp

    return TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1", "HTTP_X_ADMIN_KEY": TEST_ENV["ADMIN_API_KEY"]})


@pytest.fixture
def anonymous(wsgi_app):
    from webtest import TestApp

    return TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})


def test_public_health_says_up_or_down_only(anonymous, db):
    assert anonymous.get("/health", status=503).json == {"status": "degraded"}
    _beat(db)
    assert anonymous.get("/health", status=200).json == {"status": "ok"}


def test_metrics_can_be_protected_with_a_token(anonymous, configure):
    assert "waddlebot_http_requests_total" in anonymous.get("/metrics").text  # public unless a token is set
    configure(METRICS_TOKEN="scrape-token-123")
    anonymous.get("/metrics", status=401)
    anonymous.get("/metrics", headers={"Authorization": "Bearer wrong"}, status=401)
    scraped = anonymous.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert "waddlebot_http_requests_total" in scraped.text
    anonymous.get("/metrics", headers={"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]}, status=200)


def _beat(db, age_seconds=0):
    db.worker_heartbeat.insert(worker_id="w1", host="h", pid=1, started_at=utcnow(),
                               beat_at=utcnow() - datetime.timedelta(seconds=age_seconds),
                               services={"_default.outbox": {"state": "running"}})
    db.commit()


def test_health_is_503_without_a_worker_and_200_with_one(client, db):
    report = client.get("/health", status=503).json
    assert report["components"]["worker"]["status"] == "down"
    assert report["components"]["database"]["status"] == "ok"
    _beat(db)
    report = client.get("/health", status=200).json
    assert report["status"] == "ok" and report["components"]["worker"]["services"] == {"_default.outbox": "running"}


def test_a_stale_heartbeat_is_a_down_worker(client, db):
    _beat(db, age_seconds=600)
    assert client.get("/health", status=503).json["components"]["worker"]["status"] == "down"


def test_health_lists_every_module_and_says_what_is_missing(client, db):
    _beat(db)
    modules = client.get("/health").json["modules"]
    assert {"_default", "twitch_auth", "twitch_webhooks", "twitch_chat", "helix_proxy", "livepulse"} <= set(modules)
    assert modules["livepulse"]["status"] == "not_configured"
    assert "YT_API_KEY" in modules["livepulse"]["detail"]


def test_a_module_that_failed_to_import_is_failed_and_the_system_degraded(client, db, monkeypatch):
    _beat(db)
    monkeypatch.setitem(Reloader.ERRORS, "livepulse", "Traceback...\nImportError: no module named x\n")
    report = client.get("/health", status=503).json
    assert report["modules"]["livepulse"] == {**report["modules"]["livepulse"], "status": "failed",
                                              "detail": "ImportError: no module named x"}
    assert report["modules"]["twitch_chat"]["status"] != "failed"


def test_health_never_shows_a_secret(client, db, configure):
    configure(TWITCH_APP_ID="app-id", TWITCH_APP_SECRET="very-secret-app-secret", YT_API_KEY="yt-secret-key-1")
    _beat(db)
    body = client.get("/health").text
    for secret in ("very-secret-app-secret", "yt-secret-key-1", TEST_ENV["ADMIN_PASSWORD"], TEST_ENV["AUTH_SECRET"],
                   TEST_ENV["WADDLEBOT_SECRET_KEY"], TEST_ENV["ADMIN_API_KEY"]):
        assert secret not in body


def test_redis_is_a_health_component_when_configured(client, db):
    components = client.get("/health", expect_errors=True).json["components"]
    assert ("redis" in components) == bool(TEST_ENV["REDIS_URL"])
    if TEST_ENV["REDIS_URL"]:
        assert components["redis"]["status"] == "ok"


def test_metrics_count_requests_per_route_rule(client):
    client.get("/auth/magic/abc", status=410)
    client.get("/auth/magic/def", status=410)
    text = client.get("/metrics").text
    line = next(line for line in text.splitlines() if line.startswith("waddlebot_http_requests_total{")
                and 'route="/auth/magic/<token>"' in line and 'status="410"' in line)
    assert float(line.rsplit(" ", 1)[1]) >= 2
    assert 'app="_default"' in line
    assert "waddlebot_http_request_seconds_bucket" in text


def test_admin_home_shows_outbox_counts_and_latest_activities(admin_client, db):
    from shared.outbox import record_activity

    record_activity(db, activity_type="channel.cheer", points=100, source="eventsub", user_login="cheerful")
    db.commit()
    page = admin_client.get("/")
    assert page.html.select_one("#not-forwarded").text == "1"
    assert "cheerful" in page.text and "channel.cheer" in page.text
    assert json.dumps(TEST_ENV["ADMIN_PASSWORD"])[1:-1] not in page.text
