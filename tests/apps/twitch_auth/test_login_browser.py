"""The login in a real browser: WaddleBot → the sandbox's fake Twitch (its authorize page, where
the person picks an account and the scopes to grant) → WaddleBot."""

from __future__ import annotations

import json

import pytest

from modules.sandbox.twitch_id import FakeTwitchId
from modules.sandbox.web import Server
from modules.sandbox.world import TwitchUser
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, CLIENT_SECRET, twitch_settings
from tests.conftest import TEST_ENV


@pytest.fixture
def fake_twitch(configure, live_server, db):
    twitch = FakeTwitchId(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          users={"1234": TwitchUser("1234", "alice"), "5678": TwitchUser("5678", "bob")})
    server = Server(twitch)
    twitch.base_url = f"{server.url}/oauth2"
    twitch_settings(configure, TWITCH_ID_URL=twitch.base_url, PUBLIC_URL=live_server)
    yield twitch
    server.stop()


@pytest.mark.browser
def test_a_person_connects_their_twitch_account(live_server, page, fake_twitch, db):
    page.goto(f"{live_server}/login")  # the Continue link leads to the account's status, an admin page
    page.fill("#password", TEST_ENV["ADMIN_PASSWORD"])
    page.click("button[type=submit]")
    page.goto(f"{live_server}/twitch_auth/login?scopes=user:read:email+bits:read"
              "&next=/twitch_auth/status?user_id=1234")
    assert page.locator("h1").inner_text() == "Authorize the application"
    page.check("input[name=user_id][value='1234']")
    page.uncheck("input[name=granted][value='bits:read']")  # the person grants less than asked
    page.click("#authorize")
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
    page.goto(f"{live_server}/twitch_auth/login")
    page.click("#cancel")
    assert page.locator("h1").inner_text() == "No access granted"
    assert page.locator("#next").get_attribute("href") == "/twitch_auth/login"
    assert db(db.twitch_token).count() == 0
