import threading
import time

import pytest

from shared import workers
from shared.registry import Manifest, NotConfigured, Service
from shared.workers import Supervisor, selected_services
from tests.waiting import wait_until

CALLS: list[str] = []
RUNNING = threading.Event()


def crashing(stop):
    CALLS.append("crash")
    raise RuntimeError("boom")


def singleton(stop):
    CALLS.append("singleton")
    RUNNING.set()
    stop.wait()


def unconfigured(stop):
    CALLS.append("unconfigured")
    raise NotConfigured("set X")


def stubborn(stop):
    time.sleep(3)


def _manifest(*services):
    return Manifest(name="test", title="t", version="1", services=tuple(services))


def _supervisor(*services):
    manifest = _manifest(*services)
    return Supervisor([(manifest, service) for service in services])


@pytest.fixture(autouse=True)
def _reset(monkeypatch):
    CALLS.clear()
    RUNNING.clear()
    monkeypatch.setattr(workers, "MAX_BACKOFF", 0.05)


def test_a_crashed_service_is_restarted_with_backoff(db, monkeypatch):
    supervisor = _supervisor(Service("crash", f"{__name__}:crashing"))
    supervisor.start()
    wait_until(lambda: CALLS.count("crash") >= 3)
    assert supervisor.stop()
    state = supervisor.states[0]
    assert state.restarts >= 2 and state.last_error == "RuntimeError: boom" and state.state == "stopped"


def test_a_not_configured_service_is_not_restarted(db):
    supervisor = _supervisor(Service("unconfigured", f"{__name__}:unconfigured"))
    supervisor.start()
    wait_until(lambda: supervisor.states[0].state == "not_configured")
    time.sleep(0.2)
    assert CALLS == ["unconfigured"]
    assert supervisor.stop()


def test_a_singleton_runs_once_across_two_workers(db):
    service = Service("single", f"{__name__}:singleton", singleton=True)
    first, second = _supervisor(service), _supervisor(service)
    first.start()
    assert RUNNING.wait(5)
    second.start()
    wait_until(lambda: second.states[0].state == "waiting_lock")
    time.sleep(0.3)
    assert CALLS == ["singleton"]
    assert first.stop()
    assert second.stop()


def test_stop_returns_within_the_timeout_even_if_a_service_ignores_it(db):
    supervisor = _supervisor(Service("stubborn", f"{__name__}:stubborn"))
    supervisor.start()
    started = time.monotonic()
    assert supervisor.stop(timeout=0.5) is False
    assert time.monotonic() - started < 2


def test_the_heartbeat_reports_each_service_state(db, configure):
    configure(WORKER_HEARTBEAT_SECONDS="1")
    supervisor = _supervisor(Service("single", f"{__name__}:singleton", singleton=True))
    supervisor.start()
    assert RUNNING.wait(5)
    query = db.worker_heartbeat.worker_id == supervisor.worker_id

    def reported_running():
        db.commit()
        row = db(query).select().first()
        return row is not None and row.services["test.single"]["state"] == "running"

    wait_until(reported_running)
    supervisor.stop()
    db.commit()
    assert db(query).count() == 0


def test_only_services_of_ready_modules_are_selected(configure):
    settings = configure()
    ready = Manifest(name="a", title="a", version="1", services=(Service("s1", "x:y"),))
    needs = Manifest(name="b", title="b", version="1", requires=("YT_API_KEY",), services=(Service("s2", "x:y"),))
    broken = Manifest(name="c", title="c", version="1", services=(Service("s3", "x:y"),))
    chosen = selected_services([ready, needs, broken], None, settings, {"c": "ImportError"})
    assert [(m.name, s.name) for m, s in chosen] == [("a", "s1")]
    assert selected_services([ready, needs], ["b"], settings, {}) == []
    assert selected_services([ready], ["a.s1"], settings, {}) == [(ready, ready.services[0])]


@pytest.mark.parametrize("kind", ["file", "postgres", "redis"])
def test_each_lock_backend_admits_one_holder(kind, tmp_path):
    import os

    from shared.locks import FileServiceLock, PostgresServiceLock, RedisServiceLock
    from shared.redis_client import get_redis

    if kind == "postgres" and not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs TEST_DATABASE_URL")
    if kind == "redis" and not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs TEST_REDIS_URL")

    def make():
        if kind == "file":
            return FileServiceLock(tmp_path, "svc")
        if kind == "postgres":
            return PostgresServiceLock(os.environ["TEST_DATABASE_URL"], "svc")
        return RedisServiceLock(get_redis(), "svc")

    first, second = make(), make()
    assert first.acquire() and first.still_held()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
