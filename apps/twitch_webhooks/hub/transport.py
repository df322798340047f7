"""The EventSub WebSocket transport: one session per bot account the interests use (Twitch binds
WebSocket subscriptions to a user token; the connection itself needs none).

Each session reconciles the bot's subscriptions when it is welcomed, follows interest changes on
every tick, and stores notifications exactly as the webhook receiver does (eventsub.store: dedup
by message id, event, activity, outbox). Nothing connects while no interest needs a bot: Twitch
closes a connection without subscriptions after 10 s."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from apps.twitch_webhooks.eventsub.store import record_notification
from apps.twitch_webhooks.hub import service as hub
from apps.twitch_webhooks.hub import subscriptions as hub_subscriptions
from modules.twitch.eventsub_ws import EventSubWebSocket, Notification, Session, with_keepalive
from modules.twitch.reconnect import exponential_backoff
from shared.db import get_db, transaction
from shared.registry import NeedsReauth, NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30.0


class BotTransport:
    """The EventSub WebSocket session of one bot account; `client_options` go to EventSubWebSocket."""

    def __init__(self, bot_name: str, **client_options):
        settings = get_settings()
        self.bot_name = bot_name
        self.session_id: str | None = None
        self._last_report = 0.0
        url = with_keepalive(settings.twitch_eventsub_ws_url, settings.eventsub_keepalive_seconds)
        self.client = EventSubWebSocket(url, on_session=self._session, on_notification=self._notification,
                                        on_revocation=hub_subscriptions.revoked, on_state=self._state,
                                        on_tick=self._tick, **client_options)

    def run(self, stop: threading.Event) -> None:
        self.client.run(stop)

    def _session(self, session: Session) -> None:
        previous, self.session_id = self.session_id, session.id
        hub.report_session(self.bot_name, "connected", f"session {session.id}", session.id)
        self._last_report = time.monotonic()
        if session.reconnected:  # the subscriptions carried over: Twitch keeps them
            hub_subscriptions.carry_over(self.bot_name, previous, session.id)
            return
        try:
            hub_subscriptions.reconcile(self.bot_name, session.id)
        except Exception as err:  # the ticks create what is missing; Twitch gives 10 s, not one try
            if isinstance(err, NeedsReauth | NotConfigured):
                raise
            log.warning("reconciling the subscriptions of bot %s failed (%s: %s); creating them from the database",
                        self.bot_name, err.__class__.__name__, err)
            hub_subscriptions.sync(self.bot_name, session.id)

    def _notification(self, notification: Notification) -> None:
        with transaction(get_db()) as db:
            record_notification(db, message_id=notification.message_id, subscription=notification.subscription,
                                event=notification.event, transport="websocket")

    def _tick(self) -> None:
        hub_subscriptions.sync(self.bot_name, self.session_id)
        if time.monotonic() - self._last_report > HEARTBEAT_SECONDS:
            self._last_report = time.monotonic()
            hub.report_session(self.bot_name, self.client.state, self.client.detail)

    def _state(self, state: str, detail: str) -> None:
        if state != "connected":  # connected is reported with its session id by _session
            hub.report_session(self.bot_name, state, detail)


def bots_in_use(db) -> set[str]:
    """Bots with interests, or with subscriptions still to delete."""
    interests = {row.bot_name for row in db(db.hub_interest).select(db.hub_interest.bot_name, distinct=True)}
    leftovers = {row.bot_name for row in db(db.hub_subscription).select(db.hub_subscription.bot_name, distinct=True)}
    return interests | leftovers


@dataclass
class _Running:
    transport: BotTransport
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    failures: int = 0
    restart_at: float = 0.0


class TransportManager:
    """Runs one BotTransport per bot in use, starts and stops them as interests come and go, and
    restarts a failed one with backoff (a bot needing a new login waits longer)."""

    def __init__(self, poll_seconds: float = 5.0, backoff: Callable[[int], float] = exponential_backoff,
                 **client_options):
        self.poll_seconds = poll_seconds
        self.backoff = backoff
        self.client_options = client_options
        self.running: dict[str, _Running] = {}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.adjust()
                stop.wait(self.poll_seconds)
        finally:
            for name in list(self.running):
                self._stop(name)

    def adjust(self) -> None:
        db = get_db()
        try:
            wanted = bots_in_use(db)
        finally:
            db.rollback()
        for name in set(self.running) - wanted:
            self._stop(name)
            hub.forget_session(name)
        for name in wanted:
            running = self.running.get(name)
            if running is None:
                self.running[name] = running = _Running(BotTransport(name, **self.client_options))
            if (running.thread is None or not running.thread.is_alive()) and time.monotonic() >= running.restart_at:
                running.thread = threading.Thread(target=self._run_bot, args=(running,), daemon=True,
                                                  name=f"eventsub-ws-{name}")
                running.thread.start()

    def _run_bot(self, running: _Running) -> None:
        transport = running.transport
        transport.session_id = None
        try:
            transport.run(running.stop)
            return
        except Exception as err:  # retried after a backoff; a bot needing a new login waits longer
            failure = err
        if isinstance(failure, NeedsReauth):
            state, minimum, detail = "needs_reauth", 300.0, str(failure)
        elif isinstance(failure, NotConfigured):
            state, minimum, detail = "not_configured", 60.0, str(failure)
        else:
            log.error("the EventSub WebSocket of bot %s failed", transport.bot_name, exc_info=failure)
            state, minimum, detail = "failed", 0.0, f"{failure.__class__.__name__}: {failure}"
        if transport.session_id is not None:  # it worked for a while: the backoff starts over
            running.failures = 0
        delay = max(minimum, self.backoff(running.failures))
        running.failures += 1
        running.restart_at = time.monotonic() + delay
        log.warning("EventSub WebSocket of bot %s: %s; retrying in %.0f s", transport.bot_name, detail, delay)
        hub.report_session(transport.bot_name, state, f"{detail} (retrying in {delay:.0f} s)")

    def _stop(self, name: str) -> None:
        running = self.running.pop(name)
        running.stop.set()
        if running.thread is not None:
            running.thread.join(10)
