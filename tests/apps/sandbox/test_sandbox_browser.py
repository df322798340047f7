"""End to end in Chromium: the real system (web app, chat listener, outbox, LivePulse poller) runs
against the sandbox's fakes while the default scenario plays at 60x on an explicit clock. A person
logs in with (fake) Twitch, adds the channel, sets up its subscriptions; viewers' events reach the
reputation API, their !reco links fill the queue, the overlay shows the accepted one, and the
LivePulse dashboard shows the co-streams' peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.livepulse import workers as livepulse_workers
from apps.sandbox.database import BOT_NAME, store_bot
from apps.twitch_chat import workers as chat_workers
from modules.sandbox import scenario as scenarios
from modules.sandbox.stack import Sandbox
from shared.db import transaction
from shared.outbox import run_dispatcher
from tests.apps.twitch_chat.test_workers import Service
from tests.conftest import TEST_ENV
from tests.waiting import Clock, wait_until

SHOTS = Path(__file__).parent / "screenshots"
#: marks when the page's EventSource is connected: the stream sends changes made after it opened

@pytest.fixture
def sandbox(configure, live_server, db):
    clock = Clock()
    box = Sandbox(scenarios.load(), speed=60, clock=clock, public_url=live_server)
    configure(**box.settings(), POLL_INTERVAL_SECONDS="1", CHAT_BOT=BOT_NAME)
    with transaction(db):
        store_bot(db, box)  # as `waddlebot sandbox` does
    yield box, clock
    box.stop()


@pytest.fixture
def services(sandbox):
    """The worker's services this story needs, each in a thread."""
    running = [Service(run_dispatcher), Service(livepulse_workers.poll)]
    yield running
    for service in running:
        service.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def play_until(box: Sandbox, clock: Clock, second: float) -> None:
    """Advance the scenario to `second`, one scenario minute at a time; after each step, wait
    until every viewer who asked !reco got the bot's link and submitted it."""
    while box.player.elapsed < second:
        clock.now = min(clock.now + 1, second / box.player.speed)
        box.player.tick()
        wait_until(lambda: box.player.tick() or not box.player.waiting_for_bot, timeout=30)


def log_in_as_streamer(page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.fill("#password", TEST_ENV["ADMIN_PASSWORD"])
    page.click("button[type=submit]")
    page.goto(f"{live_server}/sandbox/admin")
    assert "local fake" in page.locator("#sandbox-banner").inner_text()
    page.click("text=Log in with Twitch")
    assert page.locator("h1").inner_text() == "Authorize the application"  # the fake Twitch's page
    page.check("input[name=user_id][value='1001']")
    page.click("#authorize")
    assert page.locator("h1").inner_text() == "Connected to Twitch"
    assert page.locator("#login").inner_text() == "waddle_streamer"


@pytest.mark.browser
def test_a_stream_in_the_sandbox_from_login_to_overlay_and_livepulse(live_server, page, browser, sandbox, services,
                                                                     db):
    box, clock = sandbox
    log_in_as_streamer(page, live_server)
    page.goto(f"{live_server}/twitch_webhooks/admin/channels")
    page.fill("#channel", "waddle_streamer")
    page.click("#add-channel button")
    page.click("text=Set up subscriptions")
    assert "9 created" in page.locator("body").inner_text()
    wait_until(box.verified)  # the fake Twitch verified every callback
    shot(page, "1-channels")

    chat = Service(chat_workers.listen)  # the bot joins the active channels as it connects
    services.append(chat)
    wait_until(box.ready)
    wait_until(lambda: box.apis.counts["gateway"] == 1)  # the first authorization was reported

    page.goto(f"{live_server}/livepulse/admin")
    page.fill("#new-name", "Co-streams")
    page.click("text=Create event")
    for stream in box.player.scenario.youtube:
        page.fill("input[name=stream]", stream.video_id)
        page.click("text=Add stream")

    box.player.start()
    play_until(box, clock, 600)
    wait_until(lambda: box.apis.counts["reputation"] >= 12)
    received = [item["body"] for item in box.apis.latest("reputation", 100)]
    assert {"channel.follow", "channel.subscribe", "channel.cheer", "channel.subscription.gift",
            "recommendation"} <= {body["type"] for body in received}
    follow = next(body for body in received if body["type"] == "channel.follow")
    assert follow["channel_login"] == "waddle_streamer" and follow["namespace"] == "sandbox"

    peak_second = max(range(0, 1801, 15), key=lambda second: sum(
        stream.viewers.at(second) for stream in box.player.scenario.youtube))
    peak = sum(stream.viewers.at(peak_second) for stream in box.player.scenario.youtube)
    play_until(box, clock, peak_second)
    wait_until(lambda: _latest_total(db) == peak, timeout=30)  # the poller saw the peak
    play_until(box, clock, 1800)
    assert box.player.finished and box.player.counts["submitted"] == 5
    # chat went over EventSub: viewers' lines as notifications, the bot's links through Send Chat Message
    assert sum(item["is_sent"] for item in box.helix.sent) >= 5 and not box.chat.lines("PRIVMSG")
    wait_until(lambda: box.apis.counts["reputation"] >= 30, timeout=30)

    page.goto(f"{live_server}/sandbox/admin")
    assert "finished" in page.locator("#progress").inner_text()
    assert int(page.locator("#received-reputation .count").inner_text()) >= 30
    shot(page, "2-sandbox-page")

    page.goto(f"{live_server}/twitch_chat/recommendations")
    assert page.locator("tr.recommendation").count() == 5
    assert "Sandbox video dQw4w9WgXcQ" in page.locator("table.queue").inner_text()
    page.goto(f"{live_server}/twitch_chat/overlays")  # a secret link for OBS
    page.fill("input[name=label]", "Main scene")
    page.locator("#create-link button").click()
    link = page.locator("tr.overlay-link input.link-url").first.input_value()
    overlay = browser.new_context()  # OBS: no cookie
    overlay_page = overlay.new_page()
    overlay_page.goto(link)
    page.goto(f"{live_server}/twitch_chat/recommendations")
    page.locator("tr.recommendation", has_text="dQw4w9WgXcQ").locator("button.accept").click()
    overlay_page.wait_for_function("() => document.querySelectorAll('#accepted li').length === 1")
    assert "recommended by krill_kim" in overlay_page.locator("#accepted").inner_text()
    assert overlay_page.locator("#sandbox-banner").is_visible()
    shot(overlay_page, "3-overlay")
    overlay.close()

    page.goto(f"{live_server}/livepulse/admin")
    page.click("text=dashboard")
    page.wait_for_function("() => document.getElementById('total-peak').textContent !== '–'")
    shown = page.locator("#total-peak").inner_text()
    assert int(shown.replace(",", "").replace("\u202f", "").replace(".", "")) == peak
    shot(page, "4-livepulse")


def _latest_total(db) -> int:
    db.rollback()  # a fresh snapshot: the poller commits in its own thread
    latest = db(db.lp_sample).select(orderby=~db.lp_sample.id, limitby=(0, 1)).first()
    return latest.viewers if latest else -1
