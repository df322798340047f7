"""The overlays as OBS opens them: a browser without any cookie, a 1920×1080 transparent page that
keeps updating across a restart of the server and says so while the server is away."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from modules.twitch import eventsub as wire
from shared import overlay_links
from tests.apps.twitch_chat.test_overlay import accepted
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, post, webhook_settings
from tests.server_process import ServerProcess

SHOTS = "/tmp/waddlebot-shots"
SCENE = {"width": 1920, "height": 1080}


@pytest.fixture
def server(db):
    process = ServerProcess()
    process.start()
    yield process
    process.stop()


@pytest.fixture
def obs(browser):
    """A browser source: its own context, no cookie, the scene's size."""
    context = browser.new_context(viewport=SCENE)
    yield context.new_page()
    context.close()


def test_the_recommendation_overlay_survives_a_server_restart(db, server, obs):
    token = overlay_links.create(db.reco_overlay_link, "Main scene", 30)
    db.commit()
    accepted(db, "First song")
    obs.goto(f"{server.url}/twitch_chat/overlay/{token}")
    expect(obs.locator("#accepted li")).to_have_text(["First songrecommended by Viewer"])
    assert obs.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
    obs.screenshot(path=f"{SHOTS}/reco-overlay.png")

    server.stop()
    expect(obs.locator("#overlay-status")).to_have_text("WaddleBot is unreachable: reconnecting…", timeout=30_000)
    obs.screenshot(path=f"{SHOTS}/reco-overlay-offline.png")
    accepted(db, "Second song", user="Other")
    server.start()
    expect(obs.locator("#accepted li .title")).to_have_text(["Second song", "First song"], timeout=30_000)
    expect(obs.locator("#overlay-status")).to_be_hidden()

    overlay_links.revoke(db.reco_overlay_link, db(db.reco_overlay_link).select().first().id)
    db.commit()
    expect(obs.locator("#overlay-status")).to_contain_text("revoked", timeout=30_000)
    obs.screenshot(path=f"{SHOTS}/reco-overlay-revoked.png")


def test_the_alerts_overlay_shows_each_new_alert(configure, client, db, server, obs):
    webhook_settings(configure)
    token = overlay_links.create(db.alert_overlay_link, "Alerts", 30)
    db.commit()
    obs.goto(f"{server.url}/twitch_webhooks/alerts/{token}")
    expect(obs.locator("body")).to_have_attribute("data-state", "live")  # it knows where "now" is
    event = {**wire.sample_event("channel.raid"), "from_broadcaster_user_name": "Grace", "viewers": 42}
    post(client, wire.notification(SECRET, "channel.raid", event=event), status=200)
    expect(obs.locator("#alert")).to_have_text("Grace is raiding with 42 viewers!", timeout=15_000)
    obs.screenshot(path=f"{SHOTS}/alerts-overlay.png")


def test_links_are_made_copied_and_revoked_on_the_admin_page(browser, live_server, db):
    from tests.browser.test_console_browser import signed_in

    context, page = signed_in(browser, live_server, "phone")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.goto(f"{live_server}/twitch_webhooks/admin/alerts")
    page.fill("input[name=label]", "Main scene")
    page.click("#create-link button")
    link = page.locator("tr.overlay-link[data-state=active]")
    url = link.locator("input.link-url").input_value()
    link.locator("button.copy").click()
    expect(link.locator("button.copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.screenshot(path=f"{SHOTS}/phone-alert-links.png", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    link.locator("button.danger").click()
    expect(page.locator("tr.overlay-link[data-state=revoked]")).to_have_count(1)
    context.close()
