"""Redis trouble is not a lost lock; a restarted singleton is not stopped by its previous run's
watchdog; `waddlebot run` starts a child that exited again, with backoff."""

from __future__ import annotations

import os
import threading

import pytest
import redis

from shared import workers
from shared.cli import ChildProcesses
from shared.locks import RedisServiceLock
from shared.registry import Service
from shared.workers import Supervisor
from tests.waiting import Clock, wait_until


class FakeRedisLock:
    """redis-py's Lock, scripted: `failure` is what reacquire raises (None: it works)."""

    name = "lock"

    def __init__(self):
        self.failure: Exception | None = None

    def acquire(self, blocking: bool) -> bool:
        return True

    def reacquire(self) -> bool:
        if self.failure is not None:
            raise self.failure
        return True

    def release(self) -> None:
        pass


class FakeRedis:
    def __init__(self):
        self.held = FakeRedisLock()

    def lock(self, name, timeout, thread_local):
        return self.held


def test_a_redis_error_during_renewal_is_not_a_lost_lock_until_the_ttl_passes():
    clock, client = Clock(1000.0), FakeRedis()
    lock = RedisServiceLock(client, "svc", clock=clock)
    assert lock.acquire()
    clock.now += 10
    assert lock.still_held()  # renewed at +10
    client.held.failure = redis.exceptions.ConnectionError("Redis is down")
    clock.now += 15
    assert lock.still_held()  # old code: any error was "lost"
    clock.now += RedisServiceLock.TTL - 15 - 1
    assert lock.still_held()
    clock.now += 1
    assert not lock.still_held()  # TTL seconds since the last renewal Redis confirmed


def test_a_lock_redis_gave_to_another_holder_is_lost_at_once():
    client = FakeRedis()
    lock = RedisServiceLock(client, "svc", clock=Clock(1000.0))
    assert lock.acquire()
    client.held.failure = redis.exceptions.LockNotOwnedError("not owned")
    assert not lock.still_held()


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_a_real_redis_lock_survives_an_unreachable_redis_and_renews_when_it_is_back():
    from shared.redis_client import get_redis

    clock = Clock(1000.0)
    lock = RedisServiceLock(get_redis(), "svc", clock=clock)
    assert lock.acquire()
    working = lock.lock.redis
    lock.lock.redis = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=1)  # nothing listens
    clock.now += 20
    assert lock.still_held()
    lock.lock.redis = working
    clock.now += 20  # 40 s since the last renewal, but Redis kept the key: renewed, still ours
    assert lock.still_held()
    other = RedisServiceLock(get_redis(), "svc")
    assert not other.acquire()
    lock.release()


class ReleasedLock:
    """A service lock whose still_held is False once released (as every backend's is)."""

    def __init__(self, checks: list):
        self.held, self.checks = False, checks

    def acquire(self) -> bool:
        self.held = True
        return True

    def still_held(self) -> bool:
        self.checks.append(self)
        return self.held

    def release(self) -> None:
        self.held = False


RUNS: list[str] = []


def crash_once_then_run(stop: threading.Event) -> None:
    RUNS.append("run")
    if len(RUNS) == 1:
        raise RuntimeError("crashed")
    stop.wait()


def test_a_restarted_singleton_is_not_stopped_by_the_previous_runs_watchdog(monkeypatch, db):
    """Old code: the first run's watchdog, still looping once the service ran again, found its
    released lock "lost" and stopped the worker."""
    RUNS.clear()
    checks: list[ReleasedLock] = []
    locks: list[ReleasedLock] = []

    def new_lock(name, settings):
        locks.append(ReleasedLock(checks))
        return locks[-1]

    monkeypatch.setattr(workers, "service_lock", new_lock)
    monkeypatch.setattr(workers, "MAX_BACKOFF", 0.05)
    monkeypatch.setattr(workers.random, "uniform", lambda low, high: 0.01)  # restart well within one check period
    service = Service("single", f"{__name__}:crash_once_then_run", singleton=True)
    supervisor = Supervisor([(workers.Manifest(name="test", title="t", version="1", services=(service,)), service)])
    supervisor.lock_check_seconds = 0.3
    supervisor.start()
    try:
        wait_until(lambda: len(RUNS) == 2)
        wait_until(lambda: checks.count(locks[1]) >= 2 or supervisor.stop_event.is_set())
        assert not supervisor.stop_event.is_set()
        assert locks[0] not in checks
    finally:
        supervisor.stop()


class FakeProcess:
    def __init__(self, command):
        self.command, self.code, self.signals = command, None, []

    def poll(self):
        return self.code

    def send_signal(self, signum):
        self.signals.append(signum)
        self.code = -signum

    def wait(self, timeout=None):
        return self.code


def test_run_starts_a_child_that_exited_again_with_growing_backoff():
    clock, spawned = Clock(1000.0), []

    def spawn(command):
        spawned.append(FakeProcess(command))
        return spawned[-1]

    children = ChildProcesses({"web": ["web"], "worker": ["worker"]}, spawn=spawn, clock=clock)
    children.start()
    delays = []
    for _ in range(3):
        worker = children.processes["worker"]
        worker.code = 1  # the worker exits (it lost its lock, say)
        children.check()
        delay = children.restart_at["worker"] - clock.now
        delays.append(delay)
        clock.now += delay - 0.1
        children.check()
        assert children.processes["worker"] is worker  # not before the delay
        clock.now += 0.1
        children.check()
        assert children.processes["worker"] is not worker
    assert delays == [1.0, 2.0, 4.0]
    assert [process.command for process in spawned] == [["web"], ["worker"]] + [["worker"]] * 3
    clock.now += ChildProcesses.STABLE_SECONDS  # it ran long enough: the backoff starts over
    children.processes["worker"].code = 1
    children.check()
    assert children.restart_at["worker"] - clock.now == 1.0
    children.stop()
    assert children.processes["web"].signals  # the web process was still running: told to stop
