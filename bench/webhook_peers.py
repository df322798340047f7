"""webhook_ingest.py --peers: the same signed load, interleaved, against ours and the peers' receivers.

Every receiver runs for the whole comparison (an idle one costs nothing); each round fires one
closed loop at each in turn, with fresh messages (a new seed) so ours stores new events every time.
CPU per request is the receiver's whole process tree (Granian's worker processes included), read
from /proc before and after the loop.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import webhook_ingest as ingest
from peers import peer_python

BENCH = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and every process below it."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    total, wanted = 0.0, {pid}
    while wanted:
        current = wanted.pop()
        total += stats.get(current, (0, 0.0))[1]
        wanted.update(child for child, (parent, _) in stats.items() if parent == current)
    return total


def start_peer(kind: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, BENCH_SECRET=ingest.SECRET, BENCH_SUBSCRIPTIONS=json.dumps(ingest.SUBSCRIPTION_IDS))
    server = subprocess.Popen([str(peer_python()), str(BENCH / "peer_servers.py"), kind, str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ingest.socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"the {kind} receiver exited") from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the {kind} receiver did not start within 60 s")


class Receiver:
    """One receiver under test: its URL, its process, and for ours the database to check."""

    def __init__(self, name: str, url: str, process: subprocess.Popen, database: tuple[str, str] | None = None):
        self.name, self.url, self.process, self.database = name, url, process, database
        self.rounds: list[dict] = []
        self.checks_ok = True

    def fire(self, seed: int, args) -> None:
        before = ingest.stored_state(*self.database) if self.database else None
        cpu = tree_cpu(self.process.pid)
        outcome = ingest.fire(self.url, "closed", int(args.peer_seconds * 8000), seed,
                              {"concurrency": args.concurrency, "seconds": args.peer_seconds})
        cpu = tree_cpu(self.process.pid) - cpu
        latencies = [item[3] for item in outcome["results"]]
        figures = {"throughput": len(latencies) / outcome["elapsed"], "p50": ingest.percentile(latencies, 0.5),
                   "p99": ingest.percentile(latencies, 0.99), "cpu_us": 1e6 * cpu / max(1, len(latencies)),
                   "load": os.getloadavg()[0]}
        if self.database:
            summary = ingest.summarize(outcome, before, ingest.stored_state(*self.database))
            self.checks_ok = ingest.report(f"{self.name}, seed {seed}", summary) and self.checks_ok
        self.rounds.append(figures)

    def median(self, key: str) -> float:
        return statistics.median(figures[key] for figures in self.rounds)


def _table(receivers: list[Receiver], args) -> None:
    print(f"\n{args.rounds} interleaved rounds of {args.peer_seconds:.0f} s at concurrency {args.concurrency} "
          f"(medians; load average {min(r['load'] for x in receivers for r in x.rounds):.1f}-"
          f"{max(r['load'] for x in receivers for r in x.rounds):.1f} on {os.cpu_count()} cores):")
    print(f"  {'receiver':<34} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10}")
    for receiver in receivers:
        print(f"  {receiver.name:<34} {receiver.median('throughput'):>7,.0f} {receiver.median('p50'):>7.1f} "
              f"{receiver.median('p99'):>7.1f} {receiver.median('cpu_us'):>10,.0f}")


def _print(receivers: list[Receiver], args) -> None:
    by_name = {receiver.name: receiver for receiver in receivers}
    _table(receivers, args)
    print("ratios of throughput (median of the per-round ratios; target):")
    targets = {"TwitchIO 3 AiohttpAdapter": 1.5, "twitchAPI 4 EventSubWebhook": 1.0, "bare Granian HMAC (ceiling)": 0.3}
    for ours in (r for r in receivers if r.database):
        for peer, target in targets.items():
            ratios = [a["throughput"] / b["throughput"] for a, b in zip(ours.rounds, by_name[peer].rounds, strict=True)]
            ratio = statistics.median(ratios)
            print(f"  {ours.name} / {peer}: {ratio:.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f}; "
                  f"target >= {target}x) {'ok' if ratio >= target else 'NOT MET'}")


PREFILL_SQL = """
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {count})
INSERT INTO eventsub_event (message_id, subscription_id, event_type, event_version, transport, channel_id, user_id,
                            event, received_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2))
             || '-' || hex(randomblob(6))), 'prefill', 'channel.follow', '2', 'webhook', '1337',
       CAST(abs(random()) % 100000000 AS TEXT), '{{"user_id": "1", "user_login": "viewer", "user_name": "Viewer",
       "broadcaster_user_id": "1337", "followed_at": "2026-01-01T00:00:00Z"}}', datetime('now') FROM n;
INSERT INTO activity (created_at, platform, activity_type, channel_id, user_id, user_login, user_name, points, source,
                      source_id, details)
SELECT received_at, 'twitch', 'channel.follow', '1337', user_id, 'viewer', 'Viewer', 10, 'eventsub', message_id, '{{}}'
FROM eventsub_event WHERE subscription_id = 'prefill';
INSERT INTO outbox (created_at, kind, activity_id, idempotency_key, status, attempts, next_attempt_at)
SELECT created_at, 'reputation', id, 'activity:' || id, 'not_forwarded', 0, created_at FROM activity
WHERE source = 'eventsub' AND id NOT IN (SELECT activity_id FROM outbox WHERE activity_id IS NOT NULL);
"""


def prefill(var_dir: str, env: dict, count: int) -> None:
    """`count` stored follows (events, activities, outbox rows) in a migrated SQLite database, in SQL."""
    import sqlite3

    subprocess.run([ingest.sys.executable, "-m", "shared.cli", "migrate"], env=env, cwd=ingest.ROOT, check=True,
                   capture_output=True)
    connection = sqlite3.connect(Path(var_dir) / "db" / "waddlebot.sqlite", isolation_level=None)
    connection.executescript("PRAGMA journal_mode=WAL; BEGIN;" + PREFILL_SQL.format(count=count) + "COMMIT;")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def compare_prefilled(args) -> int:
    """Ours on SQLite, empty and with --prefilled events stored, in interleaved rounds: the ratio."""
    processes = []
    with tempfile.TemporaryDirectory(prefix="waddlebot-bench-") as empty_dir, \
            tempfile.TemporaryDirectory(prefix="waddlebot-bench-") as full_dir:
        try:
            receivers = []
            for name, var_dir, count in (("ours, SQLite, empty", empty_dir, 0),
                                         (f"ours, SQLite, {args.prefilled:,} events stored", full_dir, args.prefilled)):
                port = ingest.free_port()
                env = ingest.server_env(var_dir, "sqlite://waddlebot.sqlite", port, args)
                if count:
                    started = time.monotonic()
                    prefill(var_dir, env, count)
                    print(f"stored {count:,} events in {time.monotonic() - started:.0f} s")
                processes.append(ingest.start_server(env, port))
                receivers.append(Receiver(name, f"http://127.0.0.1:{port}{ingest.PATH}", processes[-1],
                                          ("sqlite://waddlebot.sqlite", var_dir)))
            for number in range(args.rounds):
                for receiver in receivers:
                    receiver.fire(100 + number, args)
            empty, full = receivers
            _table(receivers, args)
            ratios = [b["throughput"] / a["throughput"] for a, b in zip(empty.rounds, full.rounds, strict=True)]
            print(f"  {full.name} / empty: {statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-"
                  f"{max(ratios):.2f}; target >= 0.95x)")
            return 0 if all(receiver.checks_ok for receiver in receivers) else 1
        finally:
            for process in processes:
                ingest.stop_server(process)


def compare(args) -> int:
    """Start every receiver, fire the interleaved rounds, print the table and ratios."""
    processes: list[subprocess.Popen] = []
    pg_name = f"wb_bench_peers_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="waddlebot-bench-") as sqlite_dir, \
            tempfile.TemporaryDirectory(prefix="waddlebot-bench-") as pg_dir:
        try:
            receivers = []
            ours = [("ours, SQLite (stores everything)", "sqlite://waddlebot.sqlite", sqlite_dir)]
            if not args.skip_postgres:
                ours.append(("ours, PostgreSQL (stores everything)",
                             ingest.postgres_database(args.pg_url, pg_name, create=True), pg_dir))
            for name, database_url, var_dir in ours:
                port = ingest.free_port()
                server = ingest.start_server(ingest.server_env(var_dir, database_url, port, args), port)
                processes.append(server)
                receivers.append(Receiver(name, f"http://127.0.0.1:{port}{ingest.PATH}", server,
                                          (database_url, var_dir)))
            for name, kind in (("twitchAPI 4 EventSubWebhook", "twitchapi"), ("TwitchIO 3 AiohttpAdapter", "twitchio"),
                               ("bare Granian HMAC (ceiling)", "bare")):
                port = ingest.free_port()
                processes.append(start_peer(kind, port))
                receivers.append(Receiver(name, f"http://127.0.0.1:{port}/callback", processes[-1]))
            for number in range(args.rounds):
                for receiver in receivers:
                    receiver.fire(100 + number, args)
            _print(receivers, args)
            return 0 if all(receiver.checks_ok for receiver in receivers) else 1
        finally:
            for process in processes:
                ingest.stop_server(process)
            if not args.skip_postgres:
                ingest.postgres_database(args.pg_url, pg_name, create=False)
