"""The login in a real browser: WaddleBot → (a fake Twitch on 127.0.0.1) → WaddleBot."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.apps.twitch_auth.twitch_fakes import token_body, twitch_settings, validate_body
from tests.conftest import TEST_ENV


class FakeTwitch(BaseHTTPRequestHandler):
    """/authorize answers as if the person clicked "Authorize" (or "Cancel" when told to deny)."""

    deny = False

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/oauth2/authorize":
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            answer = {"error": "access_denied", "error_description": "The user denied you access"} if self.deny \
                else {"code": "fake-code", "scope": query["scope"]}
            self.send_response(302)
            self.send_header("Location", f"{query['redirect_uri']}?{urlencode({**answer, 'state': query['state']})}")
            self.end_headers()
        elif url.path == "/oauth2/validate":
            self._json(validate_body(scopes=["user:read:email"]))

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._json(token_body(scopes=["user:read:email"]))

    def _json(self, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_twitch(configure, live_server, db):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwitch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    twitch_settings(configure, TWITCH_ID_URL=f"http://127.0.0.1:{server.server_port}/oauth2",
                    PUBLIC_URL=live_server)
    yield FakeTwitch
    FakeTwitch.deny = False
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_a_person_connects_their_twitch_account(live_server, page, fake_twitch, db):
    page.goto(f"{live_server}/login")  # the Continue link leads to the account's status, an admin page
    page.fill("#password", TEST_ENV["ADMIN_PASSWORD"])
    page.click("button[type=submit]")
    page.goto(f"{live_server}/twitch_auth/login?scopes=user:read:email&next=/twitch_auth/status?user_id=1234")
    assert page.locator("h1").inner_text() == "Connected to Twitch"
    assert page.locator("#login").inner_text() == "alice"
    assert page.locator("#scopes").inner_text() == "user:read:email"
    page.click("#next")
    assert json.loads(page.locator("body").inner_text())["authenticated"] is True
    page.go_back()
    page.reload()  # the same callback URL again: the state was single use
    assert "already used" in page.locator("p[role=status]").inner_text()
    assert db(db.twitch_token).count() == 1


@pytest.mark.browser
def test_a_person_who_declines_sees_a_friendly_page(live_server, page, fake_twitch, db):
    fake_twitch.deny = True
    page.goto(f"{live_server}/twitch_auth/login")
    assert page.locator("h1").inner_text() == "No access granted"
    assert page.locator("#next").get_attribute("href") == "/twitch_auth/login"
    assert db(db.twitch_token).count() == 0
