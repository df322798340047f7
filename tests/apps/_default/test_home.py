"""The admin home says what is true: a system whose modules are not configured is not "healthy",
a first run gets a checklist with what to do next, and settings in details read as code."""

from __future__ import annotations

from shared.db import utcnow
from shared.registry import discover
from tests.apps._default.test_health_and_metrics import _beat

TWITCH_APP = {"TWITCH_APP_ID": "app-id", "TWITCH_APP_SECRET": "app-secret"}


def home(admin_client):
    return admin_client.get("/", headers={"Accept": "text/html"}).html


def test_unconfigured_modules_are_not_called_healthy(admin_client, db):
    _beat(db)
    page = home(admin_client)
    assert page.select_one("#status-word").text == "Needs setting up"
    assert page.select_one("#status-sentence").text.startswith(f"2 of {len(discover())} modules ready")
    assert "healthy" not in page.select_one("h1").text


def test_a_down_worker_is_named(admin_client, db):
    page = home(admin_client)
    assert page.select_one("#status-word").text == "Needs attention"
    assert page.select_one("#status-sentence").text.startswith("worker down")
    assert ".venv/bin/waddlebot worker" in page.select_one("ul.components").text


def test_a_first_run_gets_the_checklist_with_next_steps(admin_client, db):
    steps = home(admin_client).select("#getting-started li")
    assert [(step.b.text, step["class"]) for step in steps] == [
        ("Twitch application", ["todo"]), ("Bot account", ["todo"]), ("First channel", ["todo"]),
        ("Reputation API", ["todo"])]
    assert steps[1].select_one("code").text == ".venv/bin/waddlebot bots add NAME"


def test_done_steps_are_marked_and_the_channel_step_links_its_page(configure, admin_client, db):
    configure(**TWITCH_APP, REPUTATION_API_URL="http://127.0.0.1:9/activities")
    steps = home(admin_client).select("#getting-started li")
    assert [step["class"] for step in steps] == [["done"], ["todo"], ["todo"], ["done"]]
    assert steps[2].a["href"] == "/twitch_webhooks/admin/channels"
    db.twitch_channel.insert(broadcaster_id="1337", login="streamer", created_at=utcnow())
    db.commit()
    configure(**TWITCH_APP, REPUTATION_API_URL="http://127.0.0.1:9/activities", TWITCH_USERNAME="bot",
              TWITCH_OAUTH_TOKEN="oauth:abc")
    assert home(admin_client).select("#getting-started") == []


def test_details_show_code_not_backticks_and_not_forwarded_is_explained(admin_client, db):
    page = home(admin_client)
    chat = page.select_one("tr.module[data-module=twitch_chat]")
    assert "`" not in chat.text and chat.select_one("code").text == "waddlebot bots add NAME"
    assert "REPUTATION_API_URL" in page.select_one("#not-forwarded-help").text
