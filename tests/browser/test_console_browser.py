"""Every admin page in Chromium at desktop and phone sizes: the one navigation (by module, behind a
Menu button on a phone), log-out, nothing wider than the screen; screenshots go to /tmp for review."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shared.registry import discover
from tests.conftest import TEST_ENV

PAGES = [page["path"] for manifest in discover() for page in manifest.admin_pages]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = "/tmp/waddlebot-shots"


def signed_in(browser, live_server, size: str):
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=password]", TEST_ENV["ADMIN_PASSWORD"])
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{live_server}/")
    return context, page


@pytest.mark.parametrize("size", SIZES)
def test_every_page_has_the_navigation_and_fits_the_screen(browser, live_server, db, size):
    context, page = signed_in(browser, live_server, size)
    for path in PAGES:
        page.goto(live_server + path)
        nav = page.locator("nav.modules")
        if size == "phone":
            expect(nav).to_be_hidden()
            page.click("header.top .menu-toggle")
        expect(nav.locator("a")).to_have_count(len(PAGES))
        expect(nav.locator("a[aria-current=page]")).to_have_attribute("href", path)
        expect(page.locator("header.top form[action='/logout'] button")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        page.screenshot(path=f"{SHOTS}/{size}-{path.strip('/').replace('/', '_') or 'home'}.png", full_page=True)
    context.close()


def test_the_phone_menu_groups_pages_by_module(browser, live_server, db):
    context, page = signed_in(browser, live_server, "phone")
    page.click("header.top .menu-toggle")
    expect(page.locator("header.top .menu-toggle")).to_have_attribute("aria-expanded", "true")
    groups = page.locator("nav.modules .group")
    expect(groups).to_have_count(len([m for m in discover() if m.admin_pages]))
    eventsub = next(m for m in discover() if m.title == "Twitch EventSub")
    expect(page.locator("nav.modules .group[title='Twitch EventSub'] a")).to_have_count(len(eventsub.admin_pages))
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_an_unknown_address_shows_the_branded_page_and_the_favicon(browser, live_server, db, size):
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    reply = page.goto(f"{live_server}/no/such/page")
    assert reply.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    assert page.request.get(f"{live_server}/favicon.ico").headers["content-type"] == "image/x-icon"
    page.screenshot(path=f"{SHOTS}/{size}-404.png")
    context.close()


def test_on_a_phone_the_queue_buttons_and_channel_points_are_within_reach(browser, live_server, db):
    from shared.db import utcnow
    from tests.apps.twitch_chat.test_overlay import accepted

    accepted(db, "A fairly long song title (official video)", status="new")
    db.twitch_channel.insert(broadcaster_id="1337", login="cooler_user", display_name="Cooler_user",
                             created_at=utcnow())
    db.commit()
    context, page = signed_in(browser, live_server, "phone")
    width = SIZES["phone"]["width"]
    page.goto(f"{live_server}/twitch_chat/recommendations")
    for button in page.locator("tr.recommendation button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, button.inner_text()
    page.screenshot(path=f"{SHOTS}/phone-queue-with-data.png", full_page=True)
    page.goto(f"{live_server}/twitch_webhooks/admin/channels")
    for field in page.locator("form.points input").all():
        box = field.bounding_box()
        assert box["x"] + box["width"] <= width
    context.close()


def test_on_a_phone_livepulse_streams_can_be_removed(browser, live_server, db):
    from tests.apps.livepulse.conftest import make_event

    make_event(db)
    context, page = signed_in(browser, live_server, "phone")
    page.goto(f"{live_server}/livepulse/admin")
    buttons = page.locator("tr.stream button.danger").all()
    assert len(buttons) == 2
    for button in buttons:
        box = button.bounding_box()
        assert box["x"] + box["width"] <= SIZES["phone"]["width"]
    page.screenshot(path=f"{SHOTS}/phone-livepulse-admin.png", full_page=True)
    page.once("dialog", lambda dialog: dialog.dismiss())
    buttons[0].click()
    expect(page.locator("tr.stream")).to_have_count(2)  # dismissed: nothing removed
    context.close()
