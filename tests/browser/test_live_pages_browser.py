"""Pages that follow changes in place (the queue, events, activities), since/until picked in the
viewer's time zone, and a confirmation before a recommendation is deleted."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.apps.twitch_chat.test_overlay import accepted
from tests.apps.twitch_webhooks.test_events import _store
from tests.browser.test_console_browser import SHOTS, signed_in


def test_the_events_page_shows_new_events_without_a_reload(browser, live_server, db):
    _store(db, "channel.follow")
    context, page = signed_in(browser, live_server, "desktop")
    page.goto(f"{live_server}/twitch_webhooks/admin/events")
    expect(page.locator("#rows tbody tr")).to_have_count(1)
    expect(page.locator("#live")).to_be_visible()
    raid = _store(db, "channel.raid")
    expect(page.locator("#rows tbody tr")).to_have_count(2, timeout=15_000)
    expect(page.locator("#rows tbody tr").first.locator("td").nth(4)).to_have_text(raid["from_broadcaster_user_name"])
    page.locator("#rows tbody tr").first.locator("summary").click()
    page.screenshot(path=f"{SHOTS}/events-live.png", full_page=True)
    context.close()


def test_since_and_until_are_picked_in_the_viewers_time_zone(browser, live_server, db):
    context = browser.new_context(timezone_id="America/New_York", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=password]", "correct horse battery staple")
    page.press("input[name=password]", "Enter")
    page.goto(f"{live_server}/twitch_webhooks/admin/activities")
    page.fill("#since", "2026-05-01T18:00")  # 18:00 in New York (EDT) is 22:00 UTC
    page.select_option("#type", "")
    page.click("#filters button")
    page.wait_for_url(re.compile(r"since=2026-05-01T22%3A00%3A00Z"))
    expect(page.locator("#since")).to_have_value("2026-05-01T18:00")
    context.close()


def test_the_queue_follows_changes_and_asks_before_deleting(browser, live_server, db):
    first = accepted(db, "First song", status="new")
    context, page = signed_in(browser, live_server, "desktop")
    page.goto(f"{live_server}/twitch_chat/recommendations")
    expect(page.locator("#live")).to_be_visible()
    accepted(db, "Second song", status="new")
    from apps.twitch_chat import reco

    reco.set_status(db, first, "accepted")
    db.commit()
    expect(page.locator("tr.recommendation")).to_have_count(2, timeout=15_000)
    expect(page.locator(f"tr.recommendation[data-id='{first}'] .badge")).to_have_text("accepted")

    row = page.locator(f"tr.recommendation[data-id='{first}']")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.locator("button.delete").click()
    expect(row).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.delete").click()
    expect(page.locator(f"tr.recommendation[data-id='{first}']")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/queue-live.png", full_page=True)
    context.close()
