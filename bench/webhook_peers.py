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


def _print(receivers: list[Receiver], args) -> None:
    by_name = {receiver.name: receiver for receiver in receivers}
    print(f"\n{args.rounds} interleaved rounds of {args.peer_seconds:.0f} s at concurrency {args.concurrency} "
          f"(medians; load average {min(r['load'] for x in receivers for r in x.rounds):.1f}-"
          f"{max(r['load'] for x in receivers for r in x.rounds):.1f} on {os.cpu_count()} cores):")
    print(f"  {'receiver':<34} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10}")
    for receiver in receivers:
        print(f"  {receiver.name:<34} {receiver.median('throughput'):>7,.0f} {receiver.median('p50'):>7.1f} "
              f"{receiver.median('p99'):>7.1f} {receiver.median('cpu_us'):>10,.0f}")
    print("ratios of throughput (median of the per-round ratios; target):")
    targets = {"TwitchIO 3 AiohttpAdapter": 1.5, "twitchAPI 4 EventSubWebhook": 1.0, "bare Granian HMAC (ceiling)": 0.3}
    for ours in (r for r in receivers if r.database):
        for peer, target in targets.items():
            ratios = [a["throughput"] / b["throughput"] for a, b in zip(ours.rounds, by_name[peer].rounds, strict=True)]
            ratio = statistics.median(ratios)
            print(f"  {ours.name} / {peer}: {ratio:.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f}; "
                  f"target >= {target}x) {'ok' if ratio >= target else 'NOT MET'}")


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
