import io
import logging
import os
import threading
import time

import psycopg2
import pytest

from shared import crypto, redis_client
from shared.cache import MemoryCache, NearCache, RedisCache, get_cache
from shared.db import GroupCommit, get_db, insert_rows, migrate, utcnow
from shared.logs import configure_logging
from shared.ratelimit import MemoryRateLimiter, RedisRateLimiter, allow, get_rate_limiter
from shared.redis_client import get_redis
from shared.schema import all_indexes
from shared.settings import get_settings
from tests.waiting import wait_until


def test_secrets_at_rest_are_encrypted_and_bound_to_the_secret_key(configure):
    ciphertext = crypto.encrypt("oauth-token-value")
    assert "oauth-token-value" not in ciphertext and crypto.decrypt(ciphertext) == "oauth-token-value"
    configure(WADDLEBOT_SECRET_KEY="another-key-entirely-0123456789")
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(ciphertext)


def test_service_secrets_are_hashed_with_a_salt():
    first, second = crypto.hash_secret("s3cret"), crypto.hash_secret("s3cret")
    assert first != second and "s3cret" not in first
    assert crypto.verify_secret("s3cret", first) and not crypto.verify_secret("wrong", first)
    assert not crypto.verify_secret("s3cret", "garbage")


def test_signed_tokens_check_purpose_and_expiry():
    token = crypto.sign_token("public", 60, event=3)
    assert crypto.verify_token(token, "public")["event"] == 3
    with pytest.raises(crypto.TokenError, match="invalid"):
        crypto.verify_token(token, "admin")
    with pytest.raises(crypto.TokenError, match="expired"):
        crypto.verify_token(crypto.sign_token("public", -1), "public")


def test_logs_redact_tokens_and_configured_secrets(configure):
    settings = configure(TWITCH_APP_SECRET="app-secret-value-42")
    stream = io.StringIO()
    configure_logging(settings, stream)
    log = logging.getLogger("waddlebot.test")
    log.warning("PASS oauth:abcdef123 Authorization: Bearer xyz.987 refresh_token=r-456&x=1")
    log.warning("secret %s in args, admin %s", "app-secret-value-42", settings.admin_password)
    try:
        raise ValueError("access_token=tok-999")
    except ValueError:
        log.exception("failed")
    output = stream.getvalue()
    for leaked in ("abcdef123", "xyz.987", "r-456", "app-secret-value-42", settings.admin_password, "tok-999"):
        assert leaked not in output
    assert "oauth:***" in output and "Bearer ***" in output and "x=1" in output
    logging.getLogger().removeHandler(logging.getLogger().handlers[-1])


@pytest.mark.parametrize("line", [
    "GET /helix_proxy/users?id=1 client=127.0.0.1 status=200 duration=0.1ms cache=HIT",
    "OAUTH:abc BEARER   x.y-z API_KEY: 'k1' Client_Secret=\"s\" code=c&x=1 PassWord:p",
    "KEY=ascii-only-kelvin-sign \u212aey=kelvin \u017fecret=long-s c\u0130ode=no T\u0131ken=no",
    "na\u00efve t\u00f6ken=nope secret = spaced, token:'quoted'}",
])
def test_log_redaction_equals_every_pattern_applied(line):
    """The searches a line skips are ones that could not match it: the same text as running them all."""
    from shared.logs import _MASK, _PATTERNS, RedactingFilter

    expected = line
    for pattern, _ in _PATTERNS:
        expected = pattern.sub(lambda m: m.group(1) + _MASK, expected)
    assert RedactingFilter([]).redact(line) == expected


def test_memory_cache_expires_and_evicts_least_recently_used():
    cache = MemoryCache(max_entries=2)
    cache.set("a", b"1", ttl=60)
    cache.set("b", b"2", ttl=0.01)
    time.sleep(0.02)
    assert cache.get("b") is None
    cache.set("c", b"3", ttl=60)
    cache.get("a")
    cache.set("d", b"4", ttl=60)
    assert cache.get("a") == b"1" and cache.get("c") is None and len(cache) == 2


def test_the_configured_cache_round_trips():
    cache = get_cache("test")
    cache.set("k", b"v", ttl=5)
    assert cache.get("k") == b"v"
    cache.delete("k")
    assert cache.get("k") is None
    assert type(cache).__name__ == ("RedisCache" if get_settings().redis_url else "MemoryCache")


def test_a_near_cache_keeps_what_it_read_as_long_as_redis_keeps_it():
    """Two processes' views of one Redis cache: a value read once is then served from memory,
    and expires there when it expires in Redis."""
    client = get_redis()
    if client is None:
        pytest.skip("needs Redis (TEST_REDIS_URL)")
    writer, reader = (NearCache(RedisCache(client, "near-test"), max_entries=10) for _ in range(2))
    writer.set("k", b"v", ttl=0.5)
    assert reader.get("k") == b"v"
    client.delete(redis_client.key("cache", "near-test", "k"))  # the copies read or written stay...
    assert reader.get("k") == b"v" and writer.get("k") == b"v"
    wait_until(lambda: reader.get("k") is None and writer.get("k") is None)  # ...until Redis's expiry
    assert reader.get("never-set") is None


def test_token_bucket_grants_a_burst_then_makes_callers_wait():
    limiter = get_rate_limiter()
    grants = [limiter.reserve("bucket-a", rate=10, burst=5, max_wait=0) for _ in range(6)]
    assert [g.granted for g in grants] == [True] * 5 + [False]
    waiting = limiter.reserve("bucket-a", rate=10, burst=5, max_wait=1)
    assert waiting.granted and 0.05 < waiting.wait <= 0.11


def test_pause_until_holds_every_request_until_the_reset():
    limiter = get_rate_limiter()
    limiter.pause_until("bucket-b", time.time() + 5)
    refused = limiter.reserve("bucket-b", rate=10, burst=20, max_wait=1)
    assert not refused.granted and refused.wait > 4.9


def test_allow_limits_events_per_window():
    assert [allow("login:x", 2, 60) for _ in range(3)] == [True, True, False]


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_two_redis_limiters_share_one_bucket():
    first, second = RedisRateLimiter(get_redis()), RedisRateLimiter(get_redis())
    results = [limiter.reserve("shared", rate=1, burst=4, max_wait=0).granted for limiter in (first, second) * 3]
    assert results.count(True) == 4
    assert isinstance(MemoryRateLimiter().reserve("x", 1, 1, 0).granted, bool)


def test_migrate_is_idempotent_and_creates_every_index(db):
    migrate()
    migrate()
    database = get_db()
    if database._dbname == "sqlite":
        names = {row[0] for row in database.executesql("SELECT name FROM sqlite_master WHERE type='index'")}
    else:
        names = {row[0] for row in database.executesql("SELECT indexname FROM pg_indexes")}
    assert {index.name for index in all_indexes()} <= names


def test_sqlite_runs_in_wal_mode(db):
    if db._dbname != "sqlite":
        pytest.skip("SQLite only")
    assert db.executesql("PRAGMA journal_mode")[0][0] == "wal"


def _store_links(db, jobs: list[str]) -> list[int]:
    """A GroupCommit writer: one magic_link row per job (its token_hash), refusing "bad"."""
    if "bad" in jobs:
        raise ValueError("bad job")
    now = utcnow()
    ids = insert_rows(db, "magic_link", [{"token_hash": job, "created_at": now, "expires_at": now} for job in jobs],
                      key="token_hash")
    return [ids[job] for job in jobs]


def _submit_all(writer: GroupCommit, jobs: list[str]) -> dict[str, object]:
    """Submit each job from its own thread (own connection); {job: result or exception}."""
    outcome = {}

    def submit(job):
        try:
            outcome[job] = writer.submit(get_db(), job)
        except Exception as err:
            outcome[job] = err

    threads = [threading.Thread(target=submit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcome


def test_group_commit_writes_jobs_queued_meanwhile_in_one_transaction(db):
    calls, first_running, release = [], threading.Event(), threading.Event()

    def write(own, jobs):
        calls.append(list(jobs))
        if jobs == ["first"]:
            first_running.set()
            release.wait(10)
        return _store_links(own, jobs)

    writer = GroupCommit(write)
    first = threading.Thread(target=lambda: _submit_all(writer, ["first"]))
    first.start()
    assert first_running.wait(10)
    later = threading.Thread(target=lambda: outcome.update(_submit_all(writer, [f"job-{n}" for n in range(6)])))
    outcome = {}
    later.start()
    wait_until(lambda: len(writer._queue) == 6)
    release.set()
    first.join(10)
    later.join(10)
    assert len(calls) == 2 and sorted(calls[1]) == [f"job-{n}" for n in range(6)]
    stored = {row.token_hash: row.id for row in db(db.magic_link).select()}
    assert outcome == {job: stored[job] for job in outcome} and len(stored) == 7


def test_group_commit_fails_only_the_failing_job(db):
    writer = GroupCommit(_store_links)
    outcome = _submit_all(writer, ["one", "bad", "two", "three"])
    assert isinstance(outcome.pop("bad"), ValueError)
    stored = {row.token_hash: row.id for row in db(db.magic_link).select()}
    assert outcome == stored and sorted(stored) == ["one", "three", "two"]


def test_a_pooled_connection_that_died_is_replaced_before_the_request_uses_it(db, client):
    """PostgreSQL restarted (here: its backend killed): the next request still succeeds."""
    if db._dbname != "postgres":
        pytest.skip("PostgreSQL only")
    db.commit()
    db.on_request(None)
    backend = db.executesql("SELECT pg_backend_pid()")[0][0]
    db.on_success(None)
    killer = psycopg2.connect(os.environ["TEST_DATABASE_URL"])
    killer.autocommit = True
    cursor = killer.cursor()
    cursor.execute("SELECT pg_terminate_backend(%s)", (backend,))

    def backend_gone():
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,))
        return cursor.fetchone()[0] == 0

    wait_until(backend_gone)  # as after a restart: the old backend has exited
    killer.close()
    db.on_request(None)
    try:
        assert db.executesql("SELECT pg_backend_pid()")[0][0] != backend
    finally:
        db.on_success(None)


def test_requests_wait_for_one_of_the_pooled_connections(db, monkeypatch):
    """At most DB_POOL_SIZE requests hold a PostgreSQL connection; the others wait for one (none fails)."""
    if db._dbname != "postgres":
        pytest.skip("PostgreSQL only")
    db.commit()
    monkeypatch.setattr(db, "_connection_slots", threading.BoundedSemaphore(2))
    holding, most, answers, lock = [0], [0], [], threading.Lock()

    def request():
        db.on_request(None)
        with lock:
            holding[0] += 1
            most[0] = max(most[0], holding[0])
        try:
            answers.append(db.executesql("SELECT 1 FROM pg_sleep(0.05)")[0][0])
        finally:
            with lock:
                holding[0] -= 1
            db.on_success(None)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [1] * 8 and most[0] <= 2
