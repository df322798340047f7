"""Account status, the admin API (refresh, revoke, users), admin auth and the admin home."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import requests

from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, ID_URL, store_bot, store_user, token_body

ADMIN_ROUTES = [("post", "/twitch_auth/refresh/1234"), ("post", "/twitch_auth/revoke/1234"),
                ("get", "/twitch_auth/users")]


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_every_admin_route_needs_admin_auth(client, twitch, db, method, path):
    store_user(db)
    response = getattr(client, method)(path, headers={"Accept": "application/json"}, expect_errors=True)
    assert response.status_int == 401
    assert response.json["message"].startswith("admin authentication required")
    wrong_key = getattr(client, method)(path, headers={"X-Admin-Key": "wrong"}, expect_errors=True)
    assert wrong_key.status_int == 401
    assert len(twitch.calls) == 0 and db(db.twitch_token).count() == 1


def test_the_admin_page_sends_browsers_to_the_login(client, twitch, db):
    response = client.get("/twitch_auth/users", headers={"Accept": "text/html"})
    assert response.status_int == 303 and response.headers["Location"].startswith("/login?next=")


def test_status_is_for_admins(client, twitch, db):
    store_user(db)
    assert "alice" not in client.get("/twitch_auth/status?user_id=1234", status=401).text


def test_status_describes_the_account_without_its_token(client, admin_headers, twitch, db):
    store_user(db)
    status = client.get("/twitch_auth/status?user_id=1234", headers=admin_headers).json
    assert status["authenticated"] is True and status["valid"] is True and status["login"] == "alice"
    assert status["scopes"] == ["channel:read:subscriptions", "user:read:email"]
    assert status["expires_at"].endswith("Z") and status["last_validated_at"].endswith("Z")
    assert "access-old-0001" not in str(status) and "refresh-old-0001" not in str(status)


@pytest.mark.parametrize("query, status, fragment", [
    ("?user_id=55", 404, "no stored Twitch token for user_id 55"),
    ("?user_id=abc", 400, "user_id must be a numeric Twitch user id, not 'abc'"),
    ("", 400, "user_id is required"),
])
def test_status_bad_input(client, admin_headers, twitch, db, query, status, fragment):
    response = client.get(f"/twitch_auth/status{query}", headers=admin_headers, expect_errors=True)
    assert response.status_int == status and fragment in response.json["message"]


@pytest.mark.parametrize("method, path", ADMIN_ROUTES[:2])
def test_admin_routes_refuse_unknown_and_malformed_user_ids(client, twitch, db, admin_headers, method, path):
    unknown = getattr(client, method)(path.replace("1234", "55"), headers=admin_headers, expect_errors=True)
    assert unknown.status_int == 404 and "55" in unknown.json["message"]
    malformed = getattr(client, method)(path.replace("1234", "alice"), headers=admin_headers, expect_errors=True)
    assert malformed.status_int == 400 and "user_id" in malformed.json["message"]
    assert len(twitch.calls) == 0


def test_refresh_replaces_the_token(client, twitch, db, admin_headers):
    store_user(db)
    twitch.post(f"{ID_URL}/token", json=token_body("access-new-0001", "refresh-new-0001", expires_in=9000))
    status = client.post("/twitch_auth/refresh/1234", headers=admin_headers).json
    assert status["authenticated"] is True
    assert "refresh_token=refresh-old-0001" in twitch.calls[0].request.body
    row = db(db.twitch_token.account == "user:1234").select().first()
    assert row.version == 2 and row.refreshed_at is not None


def test_a_rejected_refresh_shows_needs_relogin_on_the_admin_home(admin_client, twitch, db):
    store_user(db)
    twitch.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "Invalid refresh token"})
    response = admin_client.post("/twitch_auth/refresh/1234", expect_errors=True)
    assert response.status_int == 409 and "log in again" in response.json["message"]
    home = admin_client.get("/")
    row = home.html.find("tr", attrs={"data-module": "twitch_auth"})
    assert "needs re-login: alice → /twitch_auth/login" in row.text
    assert "degraded" in row.text
    assert admin_client.get("/twitch_auth/status?user_id=1234").json["authenticated"] is False


def test_twitch_down_during_a_refresh_is_a_502(client, twitch, db, admin_headers):
    store_user(db)
    twitch.post(f"{ID_URL}/token", body=requests.ConnectionError("refused"))
    response = client.post("/twitch_auth/refresh/1234", headers=admin_headers, expect_errors=True)
    assert response.status_int == 502 and "unreachable" in response.json["message"]


def test_revoke_revokes_at_twitch_then_forgets_the_token(client, twitch, db, admin_headers):
    store_user(db)
    twitch.post(f"{ID_URL}/revoke", body="")
    response = client.post("/twitch_auth/revoke/1234", headers=admin_headers)
    assert response.json == {"revoked": True, "user_id": "1234", "login": "alice"}
    assert parse_qs(twitch.calls[0].request.body) == {"client_id": [CLIENT_ID], "token": ["access-old-0001"]}
    assert db(db.twitch_token).count() == 0


def test_revoke_of_a_token_twitch_no_longer_knows_still_forgets_it(client, twitch, db, admin_headers):
    store_user(db)
    twitch.post(f"{ID_URL}/revoke", status=400, json={"status": 400, "message": "Invalid token"})
    assert client.post("/twitch_auth/revoke/1234", headers=admin_headers).json["revoked"] is True
    assert db(db.twitch_token).count() == 0


def test_revoke_keeps_the_token_when_twitch_is_down(client, twitch, db, admin_headers):
    store_user(db)
    twitch.post(f"{ID_URL}/revoke", status=503, body="down")
    response = client.post("/twitch_auth/revoke/1234", headers=admin_headers, expect_errors=True)
    assert response.status_int == 502 and "could not revoke" in response.json["message"]
    assert db(db.twitch_token).count() == 1


def test_users_lists_accounts_and_bots_as_json(client, twitch, db, admin_headers):
    store_user(db)
    store_bot(db)
    response = client.get("/twitch_auth/users", headers=admin_headers)
    assert response.content_type == "application/json"
    body = response.json
    assert [user["login"] for user in body["users"]] == ["alice"]
    assert [bot["name"] for bot in body["bots"]] == ["main"]
    for secret in ("access-old-0001", "refresh-old-0001", "bot-access-0001", "bot-refresh-0001"):
        assert secret not in response.text


def test_users_is_a_page_for_browsers(admin_client, twitch, db):
    store_user(db)
    store_bot(db)
    page = admin_client.get("/twitch_auth/users", headers={"Accept": "text/html"})
    assert page.content_type == "text/html"
    assert page.html.find(id="users").find("tr", attrs={"data-user-id": "1234"}) is not None
    assert "waddlebot" in page.html.find(id="bots").text
    assert "access-old-0001" not in page.text


def test_the_admin_home_links_the_accounts_page(admin_client, twitch, db):
    row = admin_client.get("/").html.find("tr", attrs={"data-module": "twitch_auth"})
    link = row.find("a", href="/twitch_auth/users")
    assert link is not None and link.text == "Twitch accounts"
