"""Security headers on every answer; only the pages meant for OBS and iframes may be framed; an
https PUBLIC_URL makes the admin cookie Secure even without a proxy header."""

import pytest

from shared import overlay_links
from tests.conftest import TEST_ENV


@pytest.mark.parametrize("path,status", [("/login", 200), ("/health", 503), ("/twitch_webhooks/webhook", 405),
                                         ("/nothing/here", 404)])
def test_every_answer_has_the_security_headers(client, db, path, status):
    headers = client.get(path, status=status).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self' covers scripts
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("table, overlay", [("reco_overlay_link", "/twitch_chat/overlay"),
                                             ("alert_overlay_link", "/twitch_webhooks/alerts")])
def test_the_obs_overlays_may_be_framed_and_admin_pages_may_not(client, admin_headers, db, table, overlay):
    token = overlay_links.create(db[table], "OBS", 30)
    db.commit()
    headers = client.get(f"{overlay}/{token}").headers
    assert "frame-ancestors *" in headers["Content-Security-Policy"] and "X-Frame-Options" not in headers
    page = client.get("/twitch_chat/overlays", headers=admin_headers).headers
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"] and page["X-Frame-Options"] == "DENY"


def test_an_https_public_url_makes_the_session_cookie_secure(client, configure):
    configure(PUBLIC_URL="https://bot.example.org")
    response = client.post("/login", {"password": TEST_ENV["ADMIN_PASSWORD"], "next": "/"}, status=303)
    cookie = response.headers["Set-Cookie"]
    assert "waddlebot_admin=" in cookie and "Secure" in cookie
