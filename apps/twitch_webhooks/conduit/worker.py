"""A worker's part of the conduit: it serves one shard or more, each with an EventSub WebSocket
session of its own, and stores every notification as the other transports do (dedup by message id).

Who serves a shard is decided by a lock per shard (shared.locks: a file lock, a PostgreSQL
advisory lock or a Redis lock): the worker that holds it serves the shard, and a dead worker's
locks are free at once (Redis: within the lock's TTL). A worker without a shard takes a free one;
if none is free and Twitch says every shard is enabled (each served by a live worker), it adds one
to the conduit, so the shard count follows the number of workers (a disabled shard is waited for:
its worker died and its lock frees soon, or it is reconnecting). Every
worker looks for free shards every CONDUIT_TAKEOVER_SECONDS and at once when Twitch sends
conduit.shard.disabled, and serves the ones it gets: a dead worker's shard moves within that time.
The worker serving shard 0 creates the subscriptions.

With webhook shards (CONDUIT_SHARDS=webhook, or auto with an https callback) the conduit has one
shard, our webhook receiver (the web replicas behind it share the load; it verifies Twitch's
signature with TWITCH_WEBHOOK_SECRET, the secret the shard was given): the worker holding shard
0's lock assigns it when Twitch does not show it enabled with our callback, and makes the
subscriptions; no worker opens a WebSocket session."""

from __future__ import annotations

import logging
import os
import socket
import threading

from apps.twitch_webhooks.conduit import helix as conduit_helix
from apps.twitch_webhooks.conduit.subscriptions import ConduitSubscriptions
from apps.twitch_webhooks.eventsub.helix import callback_url, webhook_secret
from apps.twitch_webhooks.eventsub.store import LIVE_STATUSES, record_notification
from apps.twitch_webhooks.eventsub.webhook_subscriptions import callback_problem
from modules.twitch.conduits import SHARD_DISABLED, Conduit
from modules.twitch.eventsub_ws import EventSubWebSocket, Notification, Session, with_keepalive
from shared.db import get_db, transaction
from shared.locks import ServiceLock, service_lock
from shared.settings import get_settings

log = logging.getLogger(__name__)


def webhook_shards() -> bool:
    """CONDUIT_SHARDS=webhook, or auto with a callback Twitch can reach (https on port 443)."""
    setting = get_settings().conduit_shards
    return setting == "webhook" or (setting == "auto" and callback_problem() is None)


def shard_lock(conduit_id: str, shard_id: str) -> ServiceLock:
    return service_lock(f"eventsub-conduit-{conduit_id}-shard-{shard_id}")


class ShardSession:
    """One shard this worker serves: its lock, its WebSocket session (in a thread of its own)."""

    def __init__(self, worker: ConduitWorker, shard_id: str, lock: ServiceLock):
        self.worker, self.shard_id, self.lock = worker, shard_id, lock
        settings = get_settings()
        url = with_keepalive(settings.twitch_eventsub_ws_url, settings.eventsub_keepalive_seconds)
        self.client = EventSubWebSocket(url, on_session=self._session, on_notification=worker.notification,
                                        on_state=self._state, **worker.client_options)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"conduit-shard-{shard_id}", daemon=True)

    def _run(self) -> None:
        try:
            self.client.run(self.stop)
        except Exception:  # the worker's sweep starts the shard again once its lock is free
            log.exception("conduit shard %s failed", self.shard_id)
        finally:
            self.lock.release()

    def _session(self, session: Session) -> None:
        conduit_id = self.worker.conduit.id
        conduit_helix.assign_websocket(conduit_id, self.shard_id, session.id)
        conduit_helix.record_shard(conduit_id, self.shard_id, worker_id=self.worker.worker_id, session_id=session.id,
                                   status="enabled", detail=f"session {session.id}")
        log.info("conduit shard %s is served by session %s of worker %s", self.shard_id, session.id,
                 self.worker.worker_id)

    def _state(self, state: str, detail: str) -> None:
        if state != "connected":  # connected is recorded with its session by _session
            conduit_helix.record_shard(self.worker.conduit.id, self.shard_id, worker_id=self.worker.worker_id,
                                       status=state, detail=detail[:500])


class ConduitWorker:
    """`client_options` go to each shard's EventSubWebSocket."""

    def __init__(self, worker_id: str | None = None, *, takeover_seconds: float | None = None, **client_options):
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.takeover_seconds = takeover_seconds or get_settings().conduit_takeover_seconds
        self.client_options = client_options
        self.conduit: Conduit | None = None
        self.shards: dict[str, ShardSession] = {}
        self._look = threading.Event()  # set by conduit.shard.disabled: look for free shards now
        self.webhook_lock: ServiceLock | None = None  # held while this worker looks after the webhook shard

    def run(self, stop: threading.Event) -> None:
        subscriptions = self.start()
        try:
            while not stop.is_set():
                self.sweep(subscriptions)
                self._look.wait(self.takeover_seconds)
                self._look.clear()
        finally:
            self.stop_shards()

    def start(self) -> ConduitSubscriptions:
        """The app's conduit (created or reused) and the set of its subscriptions."""
        with conduit_helix.AdminLock():
            self.conduit = conduit_helix.ensure_conduit()
            if webhook_shards() and self.conduit.shard_count != 1:  # WebSocket shards of before
                self.conduit = conduit_helix.resize(self.conduit, 1)
        return ConduitSubscriptions(self.conduit.id)

    def sweep(self, subscriptions: ConduitSubscriptions | None = None) -> None:
        """One look (every CONDUIT_TAKEOVER_SECONDS, and at once on conduit.shard.disabled): give up
        lost shards, take free ones, add one if this worker has none; the shard-0 worker makes the
        subscriptions."""
        if webhook_shards():
            self._look_after_the_webhook_shard(subscriptions)
            return
        self._drop_lost_shards()
        if not self._take_free_shards() and not self.shards:
            self._add_a_shard()
        if "0" in self.shards and subscriptions is not None:
            subscriptions.ensure()

    def stop_shards(self) -> None:
        if self.webhook_lock is not None:
            self.webhook_lock.release()
            self.webhook_lock = None
        for shard in self.shards.values():
            shard.stop.set()
        for shard in self.shards.values():
            shard.thread.join(10)

    def notification(self, notification: Notification) -> None:
        with transaction(get_db()) as db:
            record_notification(db, message_id=notification.message_id, subscription=notification.subscription,
                                event=notification.event, transport="conduit")
        if notification.type == SHARD_DISABLED:
            shard_id = str(notification.event.get("shard_id"))
            log.warning("Twitch disabled conduit shard %s (%s)", shard_id, notification.event.get("status"))
            if shard_id not in self.shards:
                self._look.set()

    def _look_after_the_webhook_shard(self, subscriptions: ConduitSubscriptions | None) -> None:
        if self.webhook_lock is not None and not self.webhook_lock.still_held():
            self.webhook_lock = None  # expired (Redis): another worker may hold it now
        if self.webhook_lock is None:
            lock = shard_lock(self.conduit.id, "0")
            if not lock.acquire():
                return
            self.webhook_lock = lock
        callback = callback_url()
        shard = next((item for item in conduit_helix.shards(self.conduit.id) if item.id == "0"), None)
        ours = shard is not None and (shard.method, shard.callback) == ("webhook", callback)
        if not ours or shard.status not in LIVE_STATUSES:
            try:
                conduit_helix.assign_webhook(self.conduit.id, "0", callback, webhook_secret())
            except conduit_helix.ConduitError as err:  # an http callback, say: shown on the admin page
                log.error("conduit: the webhook shard was refused: %s", err)
                conduit_helix.record_shard(self.conduit.id, "0", worker_id=self.worker_id, status="refused",
                                           detail=str(err)[:500])
                return
            conduit_helix.record_shard(self.conduit.id, "0", worker_id=self.worker_id, session_id=None,
                                       status="enabled", detail=f"webhook {callback}")
            log.info("conduit shard 0 is our webhook receiver %s", callback)
        if subscriptions is not None:
            subscriptions.ensure()

    def _serve(self, shard_id: str, lock: ServiceLock) -> None:
        shard = ShardSession(self, shard_id, lock)
        self.shards[shard_id] = shard
        shard.thread.start()

    def _add_a_shard(self) -> None:
        """Grow the conduit by one shard and serve it, unless a shard is disabled (soon free)."""
        if any(shard.status != "enabled" for shard in conduit_helix.shards(self.conduit.id)):
            return
        with conduit_helix.AdminLock():
            current = conduit_helix.stored_conduit() or self.conduit
            if current.shard_count > self.conduit.shard_count:  # another worker grew it since we looked:
                self.conduit = current  # its new shard may be free for us; the next look says
                return
            self.conduit = conduit_helix.resize(current, current.shard_count + 1)
        new_id = str(self.conduit.shard_count - 1)
        lock = shard_lock(self.conduit.id, new_id)
        if lock.acquire():
            self._serve(new_id, lock)
        else:  # another worker added the same shard id first: the sweep finds the next free one
            self._look.set()

    def _take_free_shards(self) -> int:
        """Serve every shard no live worker holds; returns how many were taken."""
        stored = conduit_helix.stored_conduit()
        if stored is not None and stored.id == self.conduit.id:
            self.conduit = stored  # another worker may have added shards
        taken = 0
        for number in range(self.conduit.shard_count):
            shard_id = str(number)
            if shard_id in self.shards:
                continue
            lock = shard_lock(self.conduit.id, shard_id)
            if lock.acquire():
                log.info("worker %s takes conduit shard %s", self.worker_id, shard_id)
                self._serve(shard_id, lock)
                taken += 1
        return taken

    def _drop_lost_shards(self) -> None:
        """A shard whose session thread ended, or whose lock expired (Redis), is given up."""
        for shard_id, shard in list(self.shards.items()):
            if not shard.thread.is_alive() or not shard.lock.still_held():
                shard.stop.set()
                shard.thread.join(10)
                del self.shards[shard_id]
