"""The browser login: /login → Twitch → /callback, the OAuth state, failures, storage."""

from __future__ import annotations

import datetime
import logging
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from shared.db import utcnow
from tests.apps.twitch_auth.twitch_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    ID_URL,
    token_body,
    validate_body,
)


def start_login(client, query: str = "") -> dict[str, str]:
    """GET /twitch_auth/login; returns the authorize URL's parameters."""
    response = client.get(f"/twitch_auth/login{query}")
    assert response.status_int == 303
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ID_URL}/authorize"
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def twitch_grants(mock, user_id: str = "1234", login: str = "alice") -> None:
    mock.post(f"{ID_URL}/token", json=token_body("access-new-0001", "refresh-new-0001"))
    mock.get(f"{ID_URL}/validate", json=validate_body(user_id, login))


def stored(db) -> int:
    return db(db.twitch_token).count()


def test_login_redirects_to_twitch_with_the_documented_parameters(client, twitch, db):
    params = start_login(client, "?scopes=user:read:email+bits:read&next=/somewhere")
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://127.0.0.1:8000/twitch_auth/callback"
    assert params["scope"] == "bits:read user:read:email"
    assert len(params["state"]) >= 32
    assert start_login(client)["state"] != params["state"]  # a new random state per login
    assert start_login(client)["scope"] == "user:read:email"  # TWITCH_DEFAULT_SCOPES


@pytest.mark.parametrize("target", ["http://[x", "/\\evil.example/x"])
def test_the_continue_link_after_a_twitch_login_stays_on_site(client, twitch, db, target):
    twitch_grants(twitch)
    state = start_login(client, f"?next={quote(target, safe='')}")["state"]
    page = client.get(f"/twitch_auth/callback?code=the-code&state={state}&scope=user%3Aread%3Aemail")
    assert page.html.find(id="next")["href"] == "/"


def test_login_refuses_malformed_scopes(client, twitch, db):
    response = client.get("/twitch_auth/login?scopes=user:read:email+<script>", expect_errors=True)
    assert response.status_int == 400 and "is not a Twitch scope" in response.text
    assert "<script>" not in response.text


def test_login_says_when_twitch_is_not_configured(client, db):
    response = client.get("/twitch_auth/login", expect_errors=True)
    assert response.status_int == 503 and "TWITCH_APP_ID" in response.text


def test_a_completed_login_stores_the_account_and_shows_it(client, twitch, db, caplog):
    caplog.set_level(logging.DEBUG)
    twitch_grants(twitch)
    state = start_login(client, "?scopes=user:read:email+channel:read:subscriptions&next=/after")["state"]
    page = client.get(f"/twitch_auth/callback?code=the-code&state={state}&scope=user%3Aread%3Aemail")
    assert page.status_int == 200
    assert "alice" in page.text and "channel:read:subscriptions" in page.text
    assert page.html.find(id="next")["href"] == "/after"
    exchange = twitch.calls[0].request
    assert exchange.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(exchange.body) == {"client_id": [CLIENT_ID], "client_secret": [CLIENT_SECRET],
                                       "code": ["the-code"], "grant_type": ["authorization_code"],
                                       "redirect_uri": ["http://127.0.0.1:8000/twitch_auth/callback"]}
    row = db(db.twitch_token).select().first()
    assert (row.account, row.user_id, row.login, row.bot_name) == ("user:1234", "1234", "alice", None)
    assert sorted(row.scopes) == ["channel:read:subscriptions", "user:read:email"]
    raw = repr([db.executesql(f"SELECT * FROM {table}") for table in ("twitch_token", "twitch_oauth_state", "outbox")])
    for secret in ("access-new-0001", "refresh-new-0001", "the-code"):
        assert secret not in raw and secret not in caplog.text and secret not in page.text


def test_the_first_authorization_queues_one_gateway_activation(client, twitch, db):
    twitch_grants(twitch)
    for _ in range(2):
        state = start_login(client)["state"]
        client.get(f"/twitch_auth/callback?code=c&state={state}")
    outbox = db(db.outbox.kind == "gateway").select()
    assert len(outbox) == 1
    assert outbox[0].body == {"platform": "twitch", "user_id": "1234", "login": "alice"}
    assert outbox[0].idempotency_key == "activate:twitch:1234" and outbox[0].status == "pending"


def test_the_gateway_activation_is_delivered_by_the_outbox(client, twitch, db):
    from shared.outbox import Dispatcher

    twitch_grants(twitch)
    twitch.post("https://gateway.example.test/activate", json={"ok": True})
    state = start_login(client)["state"]
    client.get(f"/twitch_auth/callback?code=c&state={state}")
    assert Dispatcher(db).run_once() == 1
    call = [call for call in twitch.calls if "gateway" in call.request.url][0]
    assert call.request.headers["Idempotency-Key"] == "activate:twitch:1234"
    assert db(db.outbox.kind == "gateway").select().first().status == "delivered"


def test_a_callback_without_state_is_refused(client, twitch, db):
    response = client.get("/twitch_auth/callback?code=c", expect_errors=True)
    assert response.status_int == 400 and "state parameter is missing" in response.text
    assert stored(db) == 0 and len(twitch.calls) == 0


def test_a_forged_state_is_refused(client, twitch, db):
    start_login(client)
    response = client.get("/twitch_auth/callback?code=c&state=forged-state-value", expect_errors=True)
    assert response.status_int == 400 and "unknown state" in response.text
    assert stored(db) == 0 and len(twitch.calls) == 0


def test_a_replayed_state_is_refused(client, twitch, db):
    twitch_grants(twitch)
    state = start_login(client)["state"]
    assert client.get(f"/twitch_auth/callback?code=c&state={state}").status_int == 200
    db(db.twitch_token).delete()
    db.commit()
    response = client.get(f"/twitch_auth/callback?code=c&state={state}", expect_errors=True)
    assert response.status_int == 400 and "already used" in response.text
    assert stored(db) == 0 and len(twitch.calls) == 2  # exchange + validate of the first callback only


def test_an_expired_state_is_refused(client, twitch, db):
    state = start_login(client)["state"]
    db(db.twitch_oauth_state).update(expires_at=utcnow() - datetime.timedelta(seconds=1))
    db.commit()
    response = client.get(f"/twitch_auth/callback?code=c&state={state}", expect_errors=True)
    assert response.status_int == 400 and "expired" in response.text
    assert stored(db) == 0 and len(twitch.calls) == 0


def test_a_state_from_another_browser_session_is_refused(client, twitch, db, wsgi_app):
    from webtest import TestApp

    state = start_login(client)["state"]
    other_browser = TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    response = other_browser.get(f"/twitch_auth/callback?code=c&state={state}", expect_errors=True)
    assert response.status_int == 400 and "another browser session" in response.text
    assert stored(db) == 0


def test_access_denied_shows_a_friendly_page_and_spends_the_state(client, twitch, db):
    state = start_login(client)["state"]
    page = client.get(f"/twitch_auth/callback?error=access_denied&error_description=The+user+denied&state={state}")
    assert page.status_int == 200 and "No access granted" in page.text and "nothing was stored" in page.text
    again = client.get(f"/twitch_auth/callback?code=c&state={state}", expect_errors=True)
    assert again.status_int == 400 and stored(db) == 0


def test_a_code_twitch_refuses_is_a_400_page(client, twitch, db):
    twitch.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "Invalid authorization code"})
    state = start_login(client)["state"]
    response = client.get(f"/twitch_auth/callback?code=bad&state={state}", expect_errors=True)
    assert response.status_int == 400 and "Invalid authorization code" in response.text
    assert stored(db) == 0


@pytest.mark.parametrize("failure", ["connection", 500, 503])
def test_twitch_down_during_the_exchange_is_a_502_page(client, twitch, db, failure):
    if failure == "connection":
        twitch.post(f"{ID_URL}/token", body=requests.ConnectionError("refused"))
    else:
        twitch.post(f"{ID_URL}/token", status=failure, body="oops")
    state = start_login(client)["state"]
    response = client.get(f"/twitch_auth/callback?code=c&state={state}", expect_errors=True)
    assert response.status_int == 502 and "Nothing was stored" in response.text
    assert stored(db) == 0 and db(db.outbox).count() == 0


def test_twitch_down_during_validation_is_a_502_page(client, twitch, db):
    twitch.post(f"{ID_URL}/token", json=token_body())
    twitch.get(f"{ID_URL}/validate", status=503, body="oops")
    state = start_login(client)["state"]
    response = client.get(f"/twitch_auth/callback?code=c&state={state}", expect_errors=True)
    assert response.status_int == 502 and stored(db) == 0


def test_a_signed_bot_link_stores_the_login_as_that_bot(client, twitch, db, app_module):
    twitch_grants(twitch, user_id="999", login="waddlebot")
    link = urlsplit(app_module("login_state").bot_login_link("main"))
    params = start_login(client, f"?{link.query}")
    assert params["scope"] == "chat:read chat:edit user:read:chat user:write:chat user:bot"
    assert params["force_verify"] == "true"
    page = client.get(f"/twitch_auth/callback?code=c&state={params['state']}")
    assert "Bot account" in page.text and "main" in page.text
    row = db(db.twitch_token).select().first()
    assert (row.account, row.bot_name, row.login) == ("bot:main", "main", "waddlebot")
    assert db(db.outbox).count() == 0  # bots are not activated at the gateway


def test_an_unsigned_bot_flag_is_refused(client, twitch, db):
    response = client.get("/twitch_auth/login?bot=main", expect_errors=True)
    assert response.status_int == 400 and "bots add NAME --browser" in response.text
    assert db(db.twitch_oauth_state).count() == 0
