"""Events per second through an EventSub conduit with two shards: two conduit workers (two
ConduitWorker in this process, each serving one shard with an EventSub WebSocket session of its own)
against the fake Twitch of the test suite on 127.0.0.1, which spreads channel.follow events over the
enabled shards round robin. Every event is stored (dedup by message id, its activity and outbox
row) before it counts. Prints figures, asserts nothing.

    .venv/bin/python bench/conduit.py [--events 5000] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

Figures: events/s from the first event offered to the last one stored, how each shard's share came
out, and events offered but not stored (should be 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def admin_sql(pg_url: str, statement: str) -> None:
    """CREATE/DROP DATABASE: outside a transaction."""
    import psycopg2

    connection = psycopg2.connect(pg_url)
    connection.autocommit = True
    try:
        connection.cursor().execute(statement)
    finally:
        connection.close()


def environment(pg_url: str | None) -> str | None:
    """Point the settings at a fresh database; returns the PostgreSQL database to drop, if any."""
    os.environ.update({"WADDLEBOT_VAR_DIR": tempfile.mkdtemp(prefix="waddlebot-bench-conduit-"),
                       "WADDLEBOT_SECRET_KEY": "bench-secret-key-0123456789abc", "LOG_LEVEL": "ERROR",
                       "REDIS_URL": "", "DATABASE_URL": "sqlite://bench.sqlite"})
    if not pg_url:
        return None
    name = f"wb_bench_conduit_{uuid.uuid4().hex[:8]}"
    admin_sql(pg_url, f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + f"/{name}"
    return name


def wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--pg-url", default="")
    args = parser.parse_args()
    dropped_database = environment(args.pg_url)

    from modules.sandbox.eventsub_ws import FakeEventSub
    from modules.sandbox.helix import FakeHelix
    from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID

    helix = FakeHelix(client_id=CLIENT_ID, client_secret="secret", bucket_points=10**9).start()
    eventsub = FakeEventSub(auto=True, on_close=helix.session_closed)
    helix.sessions = eventsub
    os.environ.update({"TWITCH_APP_ID": CLIENT_ID, "TWITCH_APP_SECRET": "secret", "TWITCH_HELIX_URL": helix.url,
                       "TWITCH_ID_URL": helix.url.removesuffix("/helix") + "/oauth2",
                       "TWITCH_EVENTSUB_WS_URL": eventsub.url, "EVENTSUB_TRANSPORT": "conduit",
                       "RATE_LIMIT_REQUESTS_PER_SECOND": "100000"})
    from apps.twitch_webhooks.conduit.worker import ConduitWorker
    from shared.db import get_db, migrate, transaction, utcnow

    migrate()
    db = get_db()
    with transaction(db):
        db.twitch_channel.insert(broadcaster_id="1001", login="streamer", active=True, created_at=utcnow())
    stop = threading.Event()
    threads = [threading.Thread(target=ConduitWorker(f"bench-{name}", takeover_seconds=0.5).run, args=(stop,),
                                daemon=True) for name in ("a", "b")]
    try:
        threads[0].start()
        wait(lambda: len(helix.subscriptions) == 10)
        threads[1].start()
        [conduit_id] = helix.conduits
        wait(lambda: sorted(status for status, _ in helix.shard_statuses(conduit_id).values()) == ["enabled"] * 2)
        shares: dict[str | None, int] = {}
        started = time.perf_counter()
        for number in range(args.events):
            _, shard = helix.deliver("channel.follow", {
                "user_id": str(10_000 + number), "user_login": f"v{number}", "user_name": f"V{number}",
                "broadcaster_user_id": "1001", "broadcaster_user_login": "streamer",
                "broadcaster_user_name": "Streamer", "followed_at": "2026-01-01T00:00:00Z"})
            shares[shard] = shares.get(shard, 0) + 1
        offered = time.perf_counter() - started

        def stored() -> int:
            db.commit()
            return db(db.eventsub_event.event_type == "channel.follow").count()

        wait(lambda: stored() >= args.events - shares.get(None, 0), timeout=600)
        elapsed = time.perf_counter() - started
        backend = "PostgreSQL" if dropped_database else "SQLite"
        print(f"conduit, 2 shards, {backend}: {args.events} events stored in {elapsed:.2f} s = "
              f"{args.events / elapsed:.0f} events/s (offered in {offered:.2f} s = {args.events / offered:.0f}/s)")
        print(f"  per shard: {', '.join(f'shard {shard}: {count}' for shard, count in sorted(shares.items()))}; "
              f"not stored: {args.events - stored()}; activities: {db(db.activity).count()}")
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(10)
        eventsub.stop()
        helix.close()
        if dropped_database:
            get_db().close()
            admin_sql(args.pg_url, f"DROP DATABASE IF EXISTS {dropped_database} WITH (FORCE)")


if __name__ == "__main__":
    main()
