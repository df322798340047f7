"""The chat listener service against the fake Twitch IRC server: channels, !reco end to end,
token refresh, and what health reports."""

from __future__ import annotations

import re
import threading

import pytest

from apps.twitch_chat import health, workers
from modules.sandbox.irc import FakeChat
from shared import tokens
from shared.db import transaction, utcnow
from shared.registry import NeedsReauth
from tests.apps.twitch_chat.conftest import VIDEO_ID, VIDEO_URL
from tests.waiting import wait_until

VIEWER_LINE = ("@badges=;display-name=Viewer;id=msg-1;room-id=1337;user-id=42 "
               ":viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #streamer :!reco something to cook to")


@pytest.fixture
def twitch():
    server = FakeChat()
    yield server
    server.close()


@pytest.fixture
def static_bot(configure, twitch):
    configure(TWITCH_IRC_URL=twitch.url, TWITCH_USERNAME="WaddleBot", TWITCH_OAUTH_TOKEN="oauth:good")


def add_channel(db, login: str, broadcaster_id: str, active: bool = True) -> None:
    with transaction(db):
        db.twitch_channel.insert(broadcaster_id=broadcaster_id, login=login, active=active, created_at=utcnow())


class Service:
    """A service function running in a thread until the test ends."""

    def __init__(self, target, *args):
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target, *args), daemon=True)
        self.thread.start()

    def _run(self, target, *args):
        try:
            target(*args, self.stop)
        except BaseException as err:
            self.error = err

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def run():
    services = []

    def start(target, *args) -> Service:
        services.append(Service(target, *args))
        return services[-1]

    yield start
    for service in services:
        service.close()


def status_row(db):
    db.commit()
    return db(db.chat_connection).select(orderby=~db.chat_connection.updated_at).first()


def test_reco_from_a_chat_line_to_an_activity_in_the_outbox(client, db, twitch, static_bot, oembed, run):
    add_channel(db, "streamer", "1337")
    add_channel(db, "retired", "7", active=False)
    run(workers.listen)
    wait_until(lambda: "JOIN #streamer" in twitch.received)
    assert "PASS oauth:good" in twitch.received and "NICK waddlebot" in twitch.received
    wait_until(lambda: (status_row(db) or {}).get("channels") == ["streamer"])
    twitch.send(VIEWER_LINE)
    wait_until(lambda: twitch.lines("PRIVMSG"))
    [reply] = twitch.lines("PRIVMSG")
    assert reply.startswith("@reply-parent-msg-id=msg-1 PRIVMSG #streamer :@Viewer send your YouTube or Spotify link")
    token = re.search(r"/twitch_chat/submit/([A-Za-z0-9_-]+)$", reply).group(1)
    ticket = client.get(f"/twitch_chat/requests/{token}").json
    assert (ticket["user"], ticket["comment"], ticket["channel"]) == ("Viewer", "something to cook to", "streamer")
    client.post_json(f"/twitch_chat/requests/{token}/submit", {"url": f"https://youtu.be/{VIDEO_ID}"}, status=201)
    recommendation = db(db.recommendation).select().first()
    assert (recommendation.url, recommendation.user_login, recommendation.channel_id) == (VIDEO_URL, "viewer", "1337")
    activity = db(db.activity).select().first()
    assert (activity.activity_type, activity.user_id, activity.source_id) == (
        "recommendation", "42", f"recommendation:{recommendation.id}")
    assert db(db.outbox.activity_id == activity.id).count() == 1
    assert "JOIN #retired" not in twitch.received
    state = health.check()
    assert (state.status, state.data["channels"]) == ("ok", ["streamer"])
    assert "connected as waddlebot in 1 channel" in state.detail


def test_the_listener_follows_channel_changes(db, twitch, static_bot, run):
    add_channel(db, "first", "1")
    listener = workers.ChatListener(tokens.get_bot(None), refresh_seconds=0.05, tick=0.02)
    run(listener.run)
    wait_until(lambda: listener.client.joined == {"first"})
    add_channel(db, "second", "2")
    with transaction(db):
        db(db.twitch_channel.login == "first").update(active=False)
    wait_until(lambda: listener.client.joined == {"second"})
    assert "PART #first" in twitch.received


def test_a_rejected_token_is_refreshed_through_the_token_service(db, twitch, configure, monkeypatch, run):
    configure(TWITCH_IRC_URL=twitch.url, TWITCH_USERNAME="waddlebot", TWITCH_OAUTH_TOKEN="oauth:expired")
    refreshed = []

    def refresh_bot(name):
        refreshed.append(name)
        return tokens.BotCredentials(name=name, login="waddlebot", user_id="9", token="good")

    monkeypatch.setattr(tokens, "refresh_bot", refresh_bot)
    run(workers.listen)
    wait_until(lambda: twitch.logins == 1)
    assert refreshed == ["waddlebot"]
    wait_until(lambda: status_row(db).status == "connected")


def test_a_token_that_cannot_be_refreshed_needs_a_new_login(db, twitch, configure, run):
    configure(TWITCH_IRC_URL=twitch.url, TWITCH_USERNAME="waddlebot", TWITCH_OAUTH_TOKEN="oauth:revoked")
    service = run(workers.listen)
    service.thread.join(5)
    assert isinstance(service.error, NeedsReauth)
    assert "log the bot account in again" in str(service.error)
    row = status_row(db)
    assert (row.bot, row.status) == ("waddlebot", "needs_reauth")
    state = health.check()
    assert state.status == "needs_reauth" and state.detail.startswith("needs re-login:")


def test_without_a_bot_the_listener_waits_and_says_not_configured(db, run):
    service = run(workers.listen)
    wait_until(lambda: status_row(db) is not None)
    assert status_row(db).status == "not_configured" and service.thread.is_alive()
    state = health.check()
    assert state.status == "not_configured" and "waddlebot bots add" in state.detail


def test_health_names_a_missing_chat_bot(db, configure):
    configure(TWITCH_USERNAME="waddlebot", TWITCH_OAUTH_TOKEN="oauth:x", CHAT_BOT="otherbot")
    state = health.check()
    assert state.status == "not_configured" and "CHAT_BOT=otherbot does not exist" in state.detail


def test_health_before_the_listener_reports_and_when_it_goes_quiet(db, configure):
    import datetime

    configure(TWITCH_USERNAME="waddlebot", TWITCH_OAUTH_TOKEN="oauth:x")
    assert "has not reported yet" in health.check().detail
    workers.report_status("waddlebot", "reconnecting", "ConnectionError; reconnecting in 4.0 s", [])
    state = health.check()
    assert (state.status, state.detail) == ("degraded", "reconnecting: ConnectionError; reconnecting in 4.0 s")
    with transaction(db):
        db(db.chat_connection).update(status="connected", updated_at=utcnow() - datetime.timedelta(minutes=10))
    state = health.check()
    assert state.status == "degraded" and "no report from the chat listener for 10 min" in state.detail


def test_the_module_status_shows_the_health(admin_client, db):
    page = admin_client.get("/")
    row = next(row for row in page.html.select("tr.module") if row.attrs["data-module"] == "twitch_chat")
    assert "not configured" in row.text and "1.0.0" in row.text


def test_the_metadata_service_completes_pending_rows(client, db, oembed, run):
    from tests.apps.twitch_chat.conftest import YOUTUBE_OEMBED, open_ticket

    oembed.replace("GET", YOUTUBE_OEMBED, status=500)
    client.post_json(f"/twitch_chat/requests/{open_ticket()}/submit", {"url": VIDEO_URL}, status=201)
    with transaction(db):
        db(db.recommendation).update(metadata_next_at=utcnow())
    oembed.replace("GET", YOUTUBE_OEMBED, json={"title": "Back online"})
    run(workers.complete_metadata)
    wait_until(lambda: status_title(db) == "Back online")


def status_title(db):
    db.commit()
    return db(db.recommendation).select().first().title


def test_a_failing_service_closes_its_connection(db, twitch, static_bot, monkeypatch):
    add_channel(db, "first", "1")
    listener = workers.ChatListener(tokens.get_bot(None), refresh_seconds=0.05, tick=0.02)
    calls = []

    def channels():
        calls.append(1)
        if len(calls) > 1:
            wait_until(lambda: listener.client.joined == {"first"})
            raise RuntimeError("database unreachable")
        return ["first"]

    monkeypatch.setattr(workers, "active_channels", channels)
    with pytest.raises(RuntimeError, match="database unreachable"):
        listener.run(threading.Event())
    assert listener.client.state == "stopped" and len(twitch.connections) == 1
    wait_until(lambda: twitch.connections[0].close_code is not None)
