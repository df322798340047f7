"""Service accounts (hashed secrets, regeneration), webhook URL rules and the hub's health data."""

from __future__ import annotations

import re
import socket

import pytest

from apps.twitch_webhooks.hub import accounts as hub_accounts
from apps.twitch_webhooks.hub import service as hub
from apps.twitch_webhooks.hub.webhooks import UnsafeUrl, check_webhook_url
from shared.db import utcnow


def test_credentials_authenticate_until_the_secret_is_regenerated(db):
    created, secret = hub_accounts.create_account(db, "alerts")
    db.commit()
    account = hub_accounts.authenticate(created["client_id"], secret, db)
    assert (account.name, account.secret_version) == ("alerts", 1)
    assert hub_accounts.authenticate(created["client_id"], secret, db) == account  # cached: same answer
    assert hub_accounts.authenticate(created["client_id"], "wrong", db) is None
    assert hub_accounts.authenticate("svc_other", secret, db) is None
    assert hub_accounts.authenticate(created["client_id"], None, db) is None
    _, renewed = hub_accounts.regenerate(db, created["client_id"])
    db.commit()
    assert hub_accounts.authenticate(created["client_id"], secret, db) is None
    assert hub_accounts.authenticate(created["client_id"], renewed, db).secret_version == 2
    assert hub_accounts.current_versions(db) == {account.id: 2}
    assert hub_accounts.regenerate(db, "svc_unknown") is None


def test_account_names_are_checked_and_unique(db):
    for bad in ("", "  ", "-starts-with-dash", "x" * 65, "semi;colon"):
        with pytest.raises(hub_accounts.AccountError, match="name"):
            hub_accounts.create_account(db, bad)
    hub_accounts.create_account(db, "alerts")
    with pytest.raises(hub_accounts.DuplicateName):
        hub_accounts.create_account(db, "alerts")


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://example.com/x", "http:// or https://"),
    ("https:///path", "http:// or https://"),
    ("https://user:pass@93.184.216.34/x", "user name or password"),
    ("http://127.0.0.1/x", "127.0.0.1"),
    ("http://0.0.0.0/x", "0.0.0.0"),
    ("http://[::ffff:127.0.0.1]/x", "127.0.0.1"),
    ("http://100.64.0.1/x", "100.64.0.1"),
    ("http://224.0.0.1/x", "224.0.0.1"),
    ("http://[fe80::1]/x", "fe80::1"),
])
def test_unsafe_webhook_urls_are_refused(url, words):
    with pytest.raises(UnsafeUrl, match=re.escape(words)):
        check_webhook_url(url, allow_private=False)


def test_unresolvable_hosts_are_refused(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        check_webhook_url("https://nowhere.invalid/x", allow_private=False)


def test_every_resolved_address_must_be_public(monkeypatch):
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
               (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    with pytest.raises(UnsafeUrl, match="10.0.0.5"):
        check_webhook_url("https://mixed.example.com/x", allow_private=False)
    assert check_webhook_url("https://mixed.example.com/x", allow_private=True) == "https://mixed.example.com/x"


def test_health_data_shows_sessions_subscriptions_and_connections(db):
    hub.report_session("main", "connected", "session abc", "abc")
    hub.report_session("other", "reconnecting", "Twitch closed the connection with 4000")
    hub.report_connections("worker-1", 3)
    hub.report_connections("worker-2", 2)
    data = hub.health_data(db)
    assert data["eventsub_websocket"]["main"]["state"] == "connected"
    assert data["eventsub_websocket"]["main"]["session_id"] == "abc"
    assert data["eventsub_websocket"]["other"]["state"] == "reconnecting"
    assert data["hub_connections"] == 5
    long_ago = utcnow() - hub.STALE_AFTER * 2  # the worker stopped reporting
    db(db.eventsub_ws_session.bot_name == "main").update(updated_at=long_ago)
    db(db.hub_server.worker_id == "worker-2").update(updated_at=long_ago)
    data = hub.health_data(db)
    assert data["eventsub_websocket"]["main"]["state"] == "stale"
    assert data["hub_connections"] == 3
