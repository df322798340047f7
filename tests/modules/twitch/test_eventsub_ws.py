"""The EventSub WebSocket client against a fake Twitch server on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from modules.twitch.eventsub_ws import (
    EventSubWebSocket,
    Notification,
    Session,
    parse_message,
    with_keepalive,
)
from tests.modules.twitch.fake_eventsub import FakeEventSub, ws_subscription
from tests.waiting import wait_until

WAIT = 5.0


class Recorder:
    """The callbacks of one client, recorded."""

    def __init__(self):
        self.sessions: list[Session] = []
        self.notifications: list[Notification] = []
        self.revocations: list[dict] = []
        self.states: list[tuple[str, str]] = []
        self.backoffs: list[int] = []

    def backoff(self, attempt: int) -> float:
        self.backoffs.append(attempt)
        return 0.01

    def message_ids(self) -> list[str]:
        return [notification.message_id for notification in self.notifications]


@pytest.fixture
def fake():
    server = FakeEventSub()
    yield server
    server.stop()


@pytest.fixture
def start(fake):
    """start(**options) → (client, recorder) running in a thread until the test ends."""
    stop = threading.Event()
    threads = []

    def launch(**options):
        recorder = Recorder()
        client = EventSubWebSocket(
            options.pop("url", with_keepalive(fake.url, 10)), on_session=recorder.sessions.append,
            on_notification=recorder.notifications.append, on_revocation=recorder.revocations.append,
            on_state=lambda state, detail: recorder.states.append((state, detail)), backoff=recorder.backoff,
            **options)
        thread = threading.Thread(target=client.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
        return client, recorder

    yield launch
    stop.set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()


def test_welcome_hands_the_session_over_and_asks_for_the_keepalive(fake, start):
    client, recorder = start()
    connection = fake.next_connection()
    assert connection.path == "/ws?keepalive_timeout_seconds=10"
    connection.welcome("abc", keepalive=10)
    wait_until(lambda: recorder.sessions)
    assert recorder.sessions == [Session("abc", 10.0, recorder.sessions[0].connected_at, reconnected=False)]
    assert client.session.id == "abc"
    assert client.state == "connected"


def test_each_notification_is_handed_over_once(fake, start):
    _, recorder = start()
    connection = fake.next_connection()
    connection.welcome()
    subscription = ws_subscription()
    first = connection.notify(subscription, {"user_id": "1"})
    connection.notify(subscription, {"user_id": "1"}, message_id=first)  # Twitch may resend a message
    second = connection.notify(subscription, {"user_id": "2"})
    connection.keepalive()
    wait_until(lambda: len(recorder.notifications) == 2)
    time.sleep(0.1)
    assert recorder.message_ids() == [first, second]
    assert recorder.notifications[0].type == "channel.follow"
    assert recorder.notifications[0].version == "2"
    assert recorder.notifications[1].event == {"user_id": "2"}
    assert connection.inbound == []  # the client never sends anything but pongs (4001 otherwise)


def test_silence_past_the_keepalive_reconnects_and_welcomes_a_fresh_session(fake, start):
    _, recorder = start(keepalive_grace=0.1)
    first = fake.next_connection()
    first.welcome("one", keepalive=0.3)
    second = fake.next_connection()
    assert first.closed.wait(WAIT)
    assert second.path == "/ws?keepalive_timeout_seconds=10"
    second.welcome("two", keepalive=10)
    wait_until(lambda: len(recorder.sessions) == 2)
    assert [(session.id, session.reconnected) for session in recorder.sessions] == [("one", False),
                                                                                   ("two", False)]
    assert any("presumed lost" in detail for state, detail in recorder.states if state == "reconnecting")


def test_keepalives_keep_the_session(fake, start):
    _, recorder = start(keepalive_grace=0.1)
    connection = fake.next_connection()
    connection.welcome("one", keepalive=0.3)
    for _ in range(6):
        time.sleep(0.1)
        connection.keepalive()
    assert fake.no_connection_within(0.05)
    assert not connection.closed.is_set()


def test_session_reconnect_hands_over_without_loss_or_duplicate(fake, start):
    client, recorder = start()
    old = fake.next_connection()
    old.welcome("session-1")
    subscription = ws_subscription()
    before = old.notify(subscription, {"n": 1})
    old.reconnect(fake.url + "?reconnect=1")
    new = fake.next_connection()
    assert new.path == "/ws?reconnect=1"
    during = old.notify(subscription, {"n": 2})  # still delivered on the old socket until the welcome
    wait_until(lambda: len(recorder.notifications) == 2)
    assert not old.closed.is_set()
    new.welcome("session-1")
    assert old.closed.wait(WAIT)
    in_flight = new.notify(subscription, {"n": 3})
    new.notify(subscription, {"n": 3}, message_id=during)  # resent on the new socket: not again
    after = new.notify(subscription, {"n": 4})
    wait_until(lambda: len(recorder.notifications) == 4)
    time.sleep(0.1)
    assert recorder.message_ids() == [before, during, in_flight, after]
    assert [(session.id, session.reconnected) for session in recorder.sessions] == [("session-1", False),
                                                                                   ("session-1", True)]
    assert old.close_code == 1000
    assert client.session.reconnected


def test_the_old_socket_closing_before_the_new_welcome_keeps_the_subscriptions(fake, start):
    _, recorder = start()
    old = fake.next_connection()
    old.welcome("session-1")
    old.reconnect(fake.url + "?reconnect=1")
    new = fake.next_connection()
    old.close(1000)
    assert old.closed.wait(WAIT)
    new.welcome("session-1")
    wait_until(lambda: len(recorder.sessions) == 2)
    assert recorder.sessions[1].reconnected
    assert fake.no_connection_within(0.1)


def test_an_unreachable_reconnect_url_keeps_the_old_session(fake, start):
    _, recorder = start()
    connection = fake.next_connection()
    connection.welcome()
    connection.reconnect("ws://127.0.0.1:9/ws")
    message_id = connection.notify(ws_subscription(), {"n": 1})
    wait_until(lambda: recorder.notifications)
    assert recorder.message_ids() == [message_id]
    assert not connection.closed.is_set()


def test_a_reconnect_socket_without_welcome_is_given_up(fake, start):
    _, recorder = start(welcome_timeout=0.3)
    old = fake.next_connection()
    old.welcome()
    old.reconnect(fake.url + "?reconnect=1")
    silent = fake.next_connection()
    assert silent.closed.wait(WAIT)
    message_id = old.notify(ws_subscription(), {"n": 1})
    wait_until(lambda: recorder.notifications)
    assert recorder.message_ids() == [message_id]


def test_revocation_is_reported(fake, start):
    _, recorder = start()
    connection = fake.next_connection()
    connection.welcome()
    revoked = ws_subscription(status="authorization_revoked")
    connection.revoke(revoked)
    wait_until(lambda: recorder.revocations)
    assert recorder.revocations == [revoked]


@pytest.mark.parametrize("code", [4000, 4002, 4003, 4004, 4005, 4006, 4007])
def test_close_codes_reconnect_fresh_after_a_backoff(fake, start, code):
    _, recorder = start()
    first = fake.next_connection()
    first.welcome("one")
    wait_until(lambda: recorder.sessions)
    first.close(code, "bye")
    second = fake.next_connection()
    assert second.path == "/ws?keepalive_timeout_seconds=10"  # the base URL, never the old reconnect URL
    second.welcome("two")
    wait_until(lambda: len(recorder.sessions) == 2)
    assert not recorder.sessions[1].reconnected
    assert recorder.backoffs == [0]
    assert any(str(code) in detail for state, detail in recorder.states if state == "reconnecting")


def test_inbound_traffic_close_is_logged_as_a_client_bug(fake, start, caplog):
    caplog.set_level(logging.ERROR, logger="modules.twitch.eventsub_ws")
    _, recorder = start()
    first = fake.next_connection()
    first.welcome()
    wait_until(lambda: recorder.sessions)
    first.close(4001)
    fake.next_connection()
    wait_until(lambda: "4001" in caplog.text)
    assert "bug of this client" in caplog.text


def test_connections_failing_before_the_welcome_back_off_further_each_time(fake, start):
    _, recorder = start()
    for _ in range(3):
        fake.next_connection().close(4000)  # refused before any welcome
    fake.next_connection().welcome()
    wait_until(lambda: recorder.sessions)
    assert recorder.backoffs == [0, 1, 2]


def test_a_welcomed_session_resets_the_backoff_however_short_it_was(fake, start):
    """Old code: sessions shorter than 60 s kept escalating (1 s … 55 s between short sessions)."""
    _, recorder = start()
    connection = fake.next_connection()
    connection.close(4000)  # a failure before the welcome: the next wait is longer
    for _ in range(3):
        connection = fake.next_connection()
        connection.welcome()
        wait_until(lambda: recorder.states[-1][0] == "connected")
        connection.close(4000)
    fake.next_connection()
    assert recorder.backoffs == [0, 0, 0, 0]


def test_no_welcome_in_time_reconnects(fake, start):
    _, recorder = start(welcome_timeout=0.2)
    first = fake.next_connection()
    assert first.closed.wait(WAIT)
    fake.next_connection().welcome("late")
    wait_until(lambda: recorder.sessions)
    assert recorder.sessions[0].id == "late"


def test_malformed_messages_are_ignored(fake, start):
    _, recorder = start()
    connection = fake.next_connection()
    connection.welcome()
    connection.send_raw("not json")
    connection.send_raw('{"metadata": {}, "payload": {}}')
    message_id = connection.notify(ws_subscription(), {"n": 1})
    wait_until(lambda: recorder.notifications)
    assert recorder.message_ids() == [message_id]


def test_an_unreachable_server_is_retried_with_backoff():
    stop = threading.Event()
    attempts = []

    def backoff(attempt: int) -> float:
        attempts.append(attempt)
        if len(attempts) == 3:
            stop.set()
        return 0.01

    client = EventSubWebSocket("ws://127.0.0.1:9/ws", on_session=lambda session: None,
                               on_notification=lambda notification: None, backoff=backoff)
    client.run(stop)
    assert attempts == [0, 1, 2]
    assert client.state == "stopped"


def test_callback_errors_end_the_run_and_close_the_socket(fake):
    def failing(session):
        raise RuntimeError("storage down")

    client = EventSubWebSocket(fake.url, on_session=failing, on_notification=lambda notification: None)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("error", _run_catching(client)), daemon=True)
    thread.start()
    connection = fake.next_connection()
    connection.welcome()
    thread.join(WAIT)
    assert isinstance(result["error"], RuntimeError)
    assert connection.closed.wait(WAIT)


def _run_catching(client: EventSubWebSocket) -> Exception | None:
    try:
        client.run(threading.Event())
    except Exception as err:
        return err
    return None


def test_tick_runs_while_a_session_is_open(fake):
    ticks = threading.Event()
    stop = threading.Event()
    client = EventSubWebSocket(fake.url, on_session=lambda session: None, on_notification=lambda n: None,
                               on_tick=ticks.set, tick_interval=0.05)
    thread = threading.Thread(target=client.run, args=(stop,), daemon=True)
    thread.start()
    connection = fake.next_connection()
    assert not ticks.wait(0.2)  # no session yet
    connection.welcome()
    assert ticks.wait(WAIT)
    stop.set()
    thread.join(WAIT)
    assert connection.closed.wait(WAIT)


def test_parse_message_rejects_what_is_not_eventsub():
    with pytest.raises(ValueError, match="JSON"):
        parse_message("{")
    with pytest.raises(ValueError, match="metadata"):
        parse_message("[]")
    with pytest.raises(ValueError, match="message_id"):
        parse_message('{"metadata": {"message_type": "x"}, "payload": {}}')
    message = parse_message('{"metadata": {"message_id": "m", "message_type": "session_keepalive", '
                            '"message_timestamp": "t"}, "payload": {}}')
    assert (message.message_id, message.message_type, message.timestamp) == ("m", "session_keepalive", "t")


def test_keepalive_is_bounded_as_twitch_requires():
    assert with_keepalive("wss://x/ws", 600) == "wss://x/ws?keepalive_timeout_seconds=600"
    assert with_keepalive("wss://x/ws?a=1", 10) == "wss://x/ws?a=1&keepalive_timeout_seconds=10"
    for bad in (9, 601):
        with pytest.raises(ValueError):
            with_keepalive("wss://x/ws", bad)
