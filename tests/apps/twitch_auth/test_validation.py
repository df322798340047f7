"""The token validator service: every stored token validated; revoked ones marked."""

from __future__ import annotations

import threading

import requests
import responses

from tests.apps.twitch_auth.twitch_fakes import ID_URL, store_bot, store_user, token_body, validate_body

INVALID = {"status": 401, "message": "invalid access token"}


def account(db, name: str):
    return db(db.twitch_token.account == name).select().first()


def test_a_valid_token_gets_its_validation_recorded(twitch, db, app_module):
    store_user(db)
    db(db.twitch_token).update(last_validated_at=None, login="old-login")
    db.commit()
    twitch.get(f"{ID_URL}/validate", json=validate_body(login="alice", scopes=["user:read:email"]))
    assert app_module("workers").validate_stored_tokens() == {"valid": 1}
    row = account(db, "user:1234")
    assert row.valid and row.last_validated_at is not None and row.login == "alice"
    assert row.scopes == ["user:read:email"]
    assert twitch.calls[0].request.headers["Authorization"] == "OAuth access-old-0001"


def test_a_revoked_token_is_marked_invalid_and_then_needs_relogin(twitch, db, app_module):
    store_user(db)
    store_bot(db)
    twitch.get(f"{ID_URL}/validate", status=401, json=INVALID)
    twitch.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "Invalid refresh token"})
    assert app_module("workers").validate_stored_tokens() == {"needs_relogin": 2}
    for name in ("user:1234", "bot:main"):
        row = account(db, name)
        assert not row.valid and row.needs_relogin
    health = app_module("health").check()
    assert health.status == "degraded"
    assert health.detail == ("needs re-login: alice → /twitch_auth/login?scopes=channel%3Aread%3Asubscriptions"
                             "+user%3Aread%3Aemail; bot main (waddlebot) → waddlebot bots add main")
    # accounts that need a person are not validated again until someone logs in
    assert app_module("workers").validate_stored_tokens() == {}


def test_an_expired_token_that_can_be_refreshed_is_refreshed(twitch, db, app_module):
    store_user(db)
    twitch.get(f"{ID_URL}/validate", status=401, json=INVALID)
    twitch.post(f"{ID_URL}/token", json=token_body("access-new-0001", "refresh-new-0001"))
    assert app_module("workers").validate_stored_tokens() == {"refreshed": 1}
    row = account(db, "user:1234")
    assert row.valid and not row.needs_relogin and row.version == 2


def test_twitch_unreachable_leaves_the_tokens_alone(twitch, db, app_module):
    store_user(db)
    twitch.get(f"{ID_URL}/validate", body=requests.ConnectionError("down"))
    assert app_module("workers").validate_stored_tokens() == {"unreachable": 1}
    row = account(db, "user:1234")
    assert row.valid and row.version == 1


def test_the_service_validates_at_start_and_stops_when_asked(twitch, db, app_module):
    store_user(db)
    stop = threading.Event()
    twitch.add_callback(responses.GET, f"{ID_URL}/validate",
                        callback=lambda request: (stop.set(), (200, {}, '{"user_id": "1234", "expires_in": 9}'))[1])
    app_module("workers").validate_tokens(stop)  # returns because the first round set `stop`
    assert len(twitch.calls) == 1 and account(db, "user:1234").last_validated_at is not None


def test_health_is_ok_while_every_account_works(twitch, db, app_module):
    store_user(db)
    health = app_module("health").check()
    assert health.status == "ok" and health.data == {"users": 1, "bots": 0, "needs_relogin": []}
