import datetime

import jwt
import pytest
from webtest import TestApp

from shared.adminauth import create_magic_link
from shared.db import utcnow
from tests.conftest import TEST_ENV


def test_an_admin_page_sends_an_anonymous_browser_to_the_login_page(client):
    response = client.get("/", headers={"Accept": "text/html"}, status=303)
    assert response.location.endswith("/login?next=%2F")


def test_an_admin_api_answers_401_json_without_credentials(client):
    response = client.post("/outbox/1/retry", status=401)
    assert response.json["message"].startswith("admin authentication required")


def test_a_wrong_password_is_refused_and_nothing_is_set(client):
    response = client.post("/login", {"password": "nope"}, status=401)
    assert "Wrong password." in response.text
    assert "waddlebot_admin" not in client.cookies


def test_login_sets_a_signed_httponly_lax_cookie_and_follows_next(client):
    response = client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"], "next": "/health"}, status=303)
    assert response.location.endswith("/health")
    cookie = response.headers["Set-Cookie"]
    assert "waddlebot_admin=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie
    assert client.get("/").status == "200 OK"


def test_login_never_redirects_off_site(client, configure):
    configure(LOGIN_MAX_ATTEMPTS="20")
    for target in ("//evil.test/x", "https://evil.test/", "javascript:alert(1)", "/\\evil.test/x", "/\\/evil.test",
                   "/x\r\nSet-Cookie: a=b", "http://[x"):
        response = client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"], "next": target}, status=303)
        assert response.location == "/"


@pytest.mark.parametrize("query", ["next=http://[x", "next=%2F%5Cevil.example%2Fx"])
def test_a_malformed_next_shows_the_login_page(client, query):
    page = client.get(f"/login?{query}")
    assert page.status_int == 200 and page.forms[0]["next"].value == "/"


def test_a_next_with_cr_lf_is_a_400(client):
    answer = client.get("/login?next=%2Fa%0D%0ALocation:%20x", status=400)
    assert "control characters" in answer.json["message"]


def test_password_attempts_are_rate_limited_per_client(client, configure):
    configure(LOGIN_MAX_ATTEMPTS="3")
    for _ in range(3):
        client.post("/login", {"password": "guess"}, status=401)
    response = client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"]}, status=429)
    assert "Too many attempts" in response.text
    other = client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"]},
                        extra_environ={"REMOTE_ADDR": "10.0.0.9"}, status=303)
    assert other.location.endswith("/")


def test_a_forged_or_expired_session_cookie_is_refused(client):
    client.set_cookie("waddlebot_admin", "not.a.jwt")
    client.post("/outbox/1/retry", status=401)


def test_the_admin_api_key_header_works_for_scripts(client, admin_headers):
    client.post("/outbox/5/retry", headers=admin_headers, status=404)
    client.post("/outbox/5/retry", headers={"X-Admin-Key": "wrong"}, status=401)


def test_a_magic_link_logs_in_once(client, db):
    url = create_magic_link(db)
    db.commit()
    path = url.removeprefix(TEST_ENV["PUBLIC_URL"])
    response = client.get(path, status=303)
    assert "waddlebot_admin=" in response.headers["Set-Cookie"]
    again = client.get(path, status=410)
    assert "already used" in again.text


def test_an_expired_or_unknown_magic_link_is_refused(client, db):
    url = create_magic_link(db)
    db(db.magic_link).update(expires_at=utcnow() - datetime.timedelta(seconds=1))
    db.commit()
    assert "expired" in client.get(url.removeprefix(TEST_ENV["PUBLIC_URL"]), status=410).text
    assert "not valid" in client.get("/auth/magic/unknown-token", status=410).text


def test_logout_clears_the_session(admin_client):
    admin_client.post("/logout", status=303)
    admin_client.get("/", headers={"Accept": "text/html"}, status=303)


def test_logout_ends_the_session_for_a_copied_cookie_too(admin_client, wsgi_app):
    copied = admin_client.cookies["waddlebot_admin"]
    thief = TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    thief.set_cookie("waddlebot_admin", copied)
    thief.get("/", status=200)
    admin_client.post("/logout", status=303)
    thief.get("/", headers={"Accept": "text/html"}, status=303)
    thief.post("/outbox/1/retry", status=401)


def test_a_session_token_without_expiry_is_refused(client):
    forever = jwt.encode({"pur": "admin", "sub": "admin", "iat": 0, "jti": "x" * 22}, TEST_ENV["AUTH_SECRET"],
                         algorithm="HS256")
    client.set_cookie("waddlebot_admin", forever)
    client.post("/outbox/1/retry", status=401)


def test_behind_a_trusted_proxy_attempts_count_per_forwarded_client(client, configure):
    configure(LOGIN_MAX_ATTEMPTS="2", TRUST_PROXY_HEADERS="true")
    for _ in range(2):
        client.post("/login", {"password": "guess"}, headers={"X-Real-IP": "203.0.113.5"}, status=401)
    client.post("/login", {"password": "guess"}, headers={"X-Real-IP": "203.0.113.5"}, status=429)
    client.post("/login", {"password": "guess"}, headers={"X-Real-IP": "203.0.113.6"}, status=401)


def test_forwarded_headers_are_ignored_unless_trusted(client, configure):
    configure(LOGIN_MAX_ATTEMPTS="2")
    for address in ("203.0.113.5", "203.0.113.6"):
        client.post("/login", {"password": "guess"}, headers={"X-Real-IP": address}, status=401)
    client.post("/login", {"password": "guess"}, headers={"X-Real-IP": "203.0.113.7"}, status=429)


def test_login_while_redis_is_down_still_works_and_is_still_limited(client, configure, caplog):
    """Redis does not answer (nothing listens on its port): old code answered 500."""
    configure(REDIS_URL="redis://127.0.0.1:9/0", LOGIN_MAX_ATTEMPTS="2")
    try:
        client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"], "next": "/"}, status=303)
        client.post("/login", {"password": "nope"}, status=401)
        response = client.post("/login", {"password": "nope"}, status=429)
    finally:
        configure(REDIS_URL=TEST_ENV["REDIS_URL"])  # the clean-up empties the test's Redis keys
    assert "Too many attempts" in response.text
    assert caplog.text.count("Redis does not answer") == 1
