"""The channels admin page in headless Chromium: add a channel, override its points, deactivate it."""

from __future__ import annotations

import pytest

from tests.apps.twitch_webhooks.webhook_fakes import fake_twitch
from tests.conftest import TEST_ENV


@pytest.mark.browser
def test_admin_adds_a_channel_and_sets_its_points(live_server, page, configure, db):
    with fake_twitch(configure):
        page.goto(f"{live_server}/twitch_webhooks/admin/channels")
        page.fill("#password", TEST_ENV["ADMIN_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/twitch_webhooks/admin/channels")
        assert "http://127.0.0.1:8000/twitch_webhooks/webhook" in page.inner_text("main")
        page.fill("#channel", "cooler_user")
        page.click("#add-channel button")
        assert page.inner_text("#notice") == "cooler_user added"
        channel = page.locator("section.channel[data-broadcaster-id='1337']")
        channel.locator("input[name='points:channel.follow']").fill("7")
        channel.locator("form.points button").click()
        assert page.inner_text("#notice") == "cooler_user saved"
        assert page.locator("input[name='points:channel.follow']").input_value() == "7"
        page.click("text=Deactivate")
        assert "inactive" in page.locator("section.channel").inner_text()
    db.rollback()
    row = db(db.twitch_channel).select().first()
    assert (row.login, row.active, row.points_overrides) == ("cooler_user", False, {"channel.follow": 7})
