import time

import pytest

from apps.livepulse.access import public_link
from apps.livepulse.live import publish
from apps.livepulse.samples import Reading, record_poll
from tests.apps.livepulse.conftest import seed

# predicates as functions: a string would be eval'd in the page, which its CSP forbids (as it should)
POINTS = "() => document.querySelector('#chart').dataset.points === '{}'"


@pytest.mark.browser
def test_the_chart_shows_the_history_then_a_new_sample_without_reload(live_server, page, db, event, now):
    event_id, streams = event
    seed(db, event_id, streams, now - 300, 10)
    link = public_link(db.lp_event(event_id), 1).replace("http://127.0.0.1:8000", live_server)
    page.goto(link)
    page.wait_for_function(POINTS.format(10))
    assert page.locator("#chart canvas").count() >= 1  # uPlot drew the chart
    assert page.locator("#chart .u-legend .u-series").count() == 1 + 1 + 2  # time, total, two streams
    assert page.locator("#total-current").inner_text() == "318"
    assert page.locator("#total-peak").inner_text() == "318"
    assert page.locator("#streams tbody tr").count() == 2
    page.wait_for_function("() => document.getElementById('status').textContent === 'live'")

    page.evaluate("window.notReloaded = true")
    record_poll(db, event_id, now - 1, [Reading(sid, "live", 400) for sid in streams])
    db.commit()
    publish(event_id)
    page.wait_for_function(POINTS.format(11))
    assert page.locator("#total-current").inner_text() == "800"
    assert page.locator("#total-peak").inner_text() == "800"
    assert page.evaluate("window.notReloaded") is True

    page.click("button[data-minutes='60']")  # another window reloads the history, not the page
    page.wait_for_function("() => document.querySelector('button[data-minutes=\"60\"]').classList.contains('active')")
    page.wait_for_function(POINTS.format(11))
    assert page.evaluate("window.notReloaded") is True


@pytest.mark.browser
def test_an_empty_dashboard_says_why_and_fits_a_phone(live_server, browser, db, event):
    event_id, streams = event
    link = public_link(db.lp_event(event_id), 1).replace("http://127.0.0.1:8000", live_server)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.goto(link)
    notices = phone.locator(".notice:visible")
    assert notices.all_inner_texts() == [
        "YT_API_KEY is not set: YouTube streams are not polled.",
        "TWITCH_APP_ID and TWITCH_APP_SECRET are not set: Twitch streams are not polled.",
        "Waiting for the first sample: the streams are polled every 15 s while the worker runs."]
    phone.wait_for_function("() => document.getElementById('status').textContent === 'live'")
    # a poll after the page connected (the stream sends samples newer than its start)
    record_poll(db, event_id, int(time.time()) + 1, [Reading(sid, "live", 400) for sid in streams])
    db.commit()
    publish(event_id)
    phone.wait_for_function(POINTS.format(1))
    assert phone.locator("#waiting").is_hidden()
    tops = {round(box["y"]) for box in (b.bounding_box() for b in phone.locator(".windows button").all())}
    assert len(tops) == 1  # the range buttons stay on one row
    hours = phone.locator("#streams tbody tr").first.locator("td").nth(5)
    assert hours.get_attribute("data-label") == "Hours watched" and hours.is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path="/tmp/waddlebot-shots/phone-livepulse-dashboard.png", full_page=True)
    context.close()


def test_an_event_without_streams_says_so(admin_client, db):
    from tests.apps.livepulse.conftest import make_event

    event_id, _ = make_event(db, streams=())
    page = admin_client.get(f"/livepulse/event/{event_id}/dashboard")
    assert "no stream yet" in page.html.select_one(".notice").text
