"""The worker process: runs the background services the manifests declare, restarts a crashed
service with backoff, holds a lock for singleton services and reports a heartbeat."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from shared.db import get_db, rollback, transaction, utcnow
from shared.locks import service_lock
from shared.registry import Manifest, NeedsReauth, NotConfigured, NotReady, Service, load_entry
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0
MAX_BACKOFF = 60.0


@dataclass
class ServiceState:
    qualified_name: str
    service: Service
    state: str = "starting"  # starting | waiting_lock | running | backoff | stopped | not_configured | needs_reauth
    restarts: int = 0
    last_error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    lock_check_seconds = 10.0  # how often a singleton's lock is renewed (a third of the Redis TTL)

    def __init__(self, services: list[tuple[Manifest, Service]], settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.stop_event = threading.Event()
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started_at = utcnow()
        self.states = [ServiceState(f"{manifest.name}.{service.name}", service) for manifest, service in services]

    # -- one service -----------------------------------------------------------------------
    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the supervisor is stopping."""
        return self.stop_event.wait(seconds)

    def _run_once(self, state: ServiceState) -> None:
        func = load_entry(state.service.entry)
        if not state.service.singleton:
            state.state = "running"
            func(self.stop_event)
            return
        lock = service_lock(state.qualified_name, self.settings)
        state.state = "waiting_lock"
        while not lock.acquire():
            if self._wait(5):
                return
        log.info("%s holds the singleton lock", state.qualified_name)
        released = threading.Event()  # this run's own: a restarted run's watchdog never sees it
        watchdog = threading.Thread(target=self._watch_lock, args=(lock, state, released), daemon=True)
        try:
            state.state = "running"
            watchdog.start()
            func(self.stop_event)
        finally:
            released.set()
            lock.release()

    def _watch_lock(self, lock, state: ServiceState, released: threading.Event) -> None:
        """Renew the lock of one run until that run releases it; stop the worker if it is lost."""
        while not released.wait(self.lock_check_seconds) and not self.stop_event.is_set():
            if not lock.still_held() and not released.is_set():
                log.error("%s lost its singleton lock; stopping the worker", state.qualified_name)
                self.stop_event.set()
                return

    def _supervise(self, state: ServiceState) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                self._run_once(state)
                if self.stop_event.is_set():
                    break
                state.last_error = "returned unexpectedly"
            except NotConfigured as err:
                state.state, state.last_error = "not_configured", str(err)
                log.warning("%s is not configured: %s", state.qualified_name, err)
                return
            except NeedsReauth as err:
                state.state, state.last_error = "needs_reauth", str(err)
                log.error("%s needs a new login: %s", state.qualified_name, err)
                backoff = 300.0
            except NotReady as err:
                state.last_error = str(err)
                log.info("%s not ready: %s", state.qualified_name, err)
            except Exception as err:
                state.last_error = f"{err.__class__.__name__}: {err}"
                log.exception("%s crashed", state.qualified_name)
                rollback(get_db())  # the restart must not inherit a broken connection of this thread
            if time.monotonic() - started > 60:
                backoff = 1.0
            state.state, state.restarts = "backoff", state.restarts + 1
            if self._wait(random.uniform(backoff / 2, backoff)):
                break
            backoff = min(MAX_BACKOFF, backoff * 2)
        state.state = "stopped"

    # -- the heartbeat ---------------------------------------------------------------------
    def beat(self) -> None:
        db = get_db()
        services = {state.qualified_name: {"state": state.state, "restarts": state.restarts,
                                           "last_error": state.last_error} for state in self.states}
        with transaction(db):
            db.worker_heartbeat.update_or_insert(
                db.worker_heartbeat.worker_id == self.worker_id, worker_id=self.worker_id,
                host=socket.gethostname(), pid=os.getpid(), started_at=self.started_at, beat_at=utcnow(),
                services=services)

    def _heartbeat(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")
            self._wait(self.settings.worker_heartbeat_seconds)
        try:
            db = get_db()
            with transaction(db):
                db(db.worker_heartbeat.worker_id == self.worker_id).delete()
        except Exception:
            log.exception("could not remove the heartbeat")

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for state in self.states:
            state.thread = threading.Thread(target=self._supervise, args=(state,), name=state.qualified_name,
                                            daemon=True)
            state.thread.start()
        self._beat_thread = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._beat_thread.start()
        log.info("worker %s started %d services: %s", self.worker_id, len(self.states),
                 ", ".join(state.qualified_name for state in self.states) or "none")

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask every service to stop and wait at most `timeout` seconds; True if all stopped."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        threads = [state.thread for state in self.states if state.thread] + [self._beat_thread]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in threads if thread.is_alive()]
        if alive:
            log.warning("services still running after %.0fs: %s", timeout, ", ".join(alive))
        return not alive


def selected_services(manifests: list[Manifest], only: list[str] | None, settings: Settings,
                      failed: dict[str, str]) -> list[tuple[Manifest, Service]]:
    """The services to run: those of ready modules, optionally only the names given
    (a module name, or module.service)."""
    chosen = []
    for manifest in manifests:
        for service in manifest.services:
            qualified = f"{manifest.name}.{service.name}"
            if only and not {manifest.name, service.name, qualified} & set(only):
                continue
            if manifest.name in failed:
                log.error("%s not started: module %s failed to load (%s)", qualified, manifest.name,
                          failed[manifest.name])
            elif missing := manifest.missing_settings(settings):
                log.warning("%s not started: not configured (set %s)", qualified, ", ".join(missing))
            else:
                chosen.append((manifest, service))
    return chosen
