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
