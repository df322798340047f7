"""livepulse benchmark: history latency, CSV export throughput and server memory, SSE fan-out.

Generates DAYS of samples every INTERVAL seconds for STREAMS streams (default 7 days × 15 s × 20
streams = 806,400 stream samples + 40,320 totals), rolls them up, starts the real web server
(as `waddlebot web` serves it) and measures over HTTP:
  * the 7-day history request (streams=1) p50/p95 (target ≤ 200 ms p95)
  * the all-streams CSV export in rows/s and the server's memory growth (≥ 100,000 rows/s, ≤ 50 MB)
  * SSE fan-out: CLIENTS concurrent streams, time from a sample's commit until every client has it
    (target ≤ 1 s)
on SQLite (embedded: no Redis, the web process polls the database) and on PostgreSQL + Redis
(scale-out: a database of its own, created and dropped here).

    .venv/bin/python bench/livepulse.py [--quick] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_KEY = "bench-admin-key"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "wb_bench_livepulse"
REDIS = "redis://127.0.0.1:6379/0"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 day, 100 SSE clients, fewer requests")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--interval", type=int, default=15)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--clients", type=int, help="concurrent SSE clients (default 500, --quick 100)")
    parser.add_argument("--requests", type=int, default=40, help="history requests timed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.days, args.requests = 1.0, 15
    args.clients = args.clients or (100 if args.quick else 500)
    return args


# -- the child: one backend, its own environment -----------------------------------------------------
def environment(backend: str, var_dir: str, clients: int) -> dict[str, str]:
    # an SSE client holds a WSGI thread; room for the 3 fan-out rounds' clients (and stragglers)
    env = {**os.environ, "WADDLEBOT_ENV": "development", "WADDLEBOT_VAR_DIR": var_dir, "ADMIN_API_KEY": ADMIN_KEY,
           "ADMIN_PASSWORD": "bench", "AUTH_SECRET": "bench-auth-secret-0123456789abcdef",
           "WADDLEBOT_SECRET_KEY": "bench-secret-key-0123456789abcdef", "LOG_LEVEL": "WARNING",
           "WEB_THREADS": str(3 * clients + 50), "REDIS_KEY_PREFIX": f"bench-{os.getpid()}:"}
    if backend == "postgres":
        env.update(DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{PG_DB}", REDIS_URL=REDIS)
    else:
        env.update(DATABASE_URL="sqlite://bench.sqlite", REDIS_URL="")
    return env


def generate(db, days: float, interval: int, stream_count: int) -> tuple[int, list[int], int]:
    """An event with stream_count streams and days of samples ending now (multi-row inserts)."""
    from shared.db import utcnow

    now = int(time.time())
    event_id = db.lp_event.insert(name="Bench", created_at=utcnow(), updated_at=utcnow())
    streams = [db.lp_stream.insert(event_id=event_id, platform="youtube", external_id=f"v{k:010d}", state="live",
                                   created_at=utcnow()) for k in range(stream_count)]
    polls = int(days * 86400 / interval)
    start = now - polls * interval
    totals, rows = [], []
    for i in range(polls):
        ts = start + i * interval
        values = [1000 + 50 * k + (i * 7 + k * 13) % 400 for k in range(stream_count)]
        totals.append(f"({event_id},{ts},{sum(values)},{stream_count},0)")
        rows.extend(f"({event_id},{sid},{ts},{value},'live')" for sid, value in zip(streams, values, strict=True))
        if len(rows) >= 5000 or i == polls - 1:
            db.executesql("INSERT INTO lp_sample (event_id, ts, viewers, live_streams, unknown_streams) VALUES "
                          + ",".join(totals))
            db.executesql("INSERT INTO lp_stream_sample (event_id, stream_id, ts, viewers, state) VALUES "
                          + ",".join(rows))
            totals, rows = [], []
    db.commit()
    return event_id, streams, polls


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "shared.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    import requests

    for _ in range(300):
        try:
            requests.get(f"{base}/health", timeout=1)
            return server, base
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("the web server did not start")


def worker_pid(server_pid: int) -> int:
    """The Granian worker process serving the requests (the web command's child)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return int(children[0]) if children else server_pid


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def bench_history(base: str, event_id: int, minutes: int, count: int) -> tuple[float, float, int]:
    import requests

    session = requests.Session()
    session.headers["X-Admin-Key"] = ADMIN_KEY
    url = f"{base}/livepulse/events/{event_id}/history?minutes={minutes}&streams=1"
    points = len(session.get(url).json()["total"]["points"])  # warm-up
    times = []
    for _ in range(count):
        started = time.perf_counter()
        session.get(url).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], points


def bench_csv(base: str, event_id: int, pid: int, minutes: int) -> tuple[int, float, float, float]:
    import requests

    before, _ = rss_mb(pid)
    started, rows = time.perf_counter(), -1
    with requests.get(f"{base}/livepulse/events/{event_id}/streams/history.csv?minutes={minutes}",
                      headers={"X-Admin-Key": ADMIN_KEY}, stream=True) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 16):
            rows += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    after, peak = rss_mb(pid)
    return rows, rows / elapsed, after - before, peak - before


async def _read_until(reader: asyncio.StreamReader, marker: bytes) -> None:
    buffer = b""
    while marker not in buffer:
        data = await reader.read(4096)
        if not data:
            raise ConnectionError(f"the stream ended before {marker!r}: {buffer[:300]!r}")
        buffer += data


async def _sse_client(host: str, port: int, path: str, last_id: int, ready: asyncio.Event, counter: list, got: dict,
                      key: int):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Admin-Key: {ADMIN_KEY}\r\n"
                 f"Last-Event-ID: {last_id}\r\n\r\n".encode())
    await _read_until(reader, b"retry:")
    counter[0] += 1
    if counter[0] == counter[1]:
        ready.set()
    await _read_until(reader, b"id: ")
    got[key] = time.perf_counter()
    writer.close()


async def _fan_out(base: str, event_id: int, last_id: int, clients: int, write_sample) -> tuple[float, float, float]:
    """Clients resume after the newest sample (Last-Event-ID), so the first `id:` each reads is the new one."""
    host, port = base.split("//")[1].split(":")
    path = f"/livepulse/events/{event_id}/stream?minutes=0"
    ready, counter, got = asyncio.Event(), [0, clients], {}
    connect_started = time.perf_counter()
    tasks = [asyncio.create_task(_sse_client(host, int(port), path, last_id, ready, counter, got, n))
             for n in range(clients)]
    await asyncio.wait_for(ready.wait(), 120)
    connected = time.perf_counter() - connect_started
    await asyncio.sleep(1.0)  # every server thread is waiting on the hub
    written = await asyncio.to_thread(write_sample)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    delays = sorted(moment - written for moment in got.values())
    return connected, statistics.median(delays), delays[-1]


def bench_sse(base: str, db, event_id: int, streams: list[int], clients: int, rounds: int = 3) -> list:
    from apps.livepulse.live import publish
    from apps.livepulse.samples import Reading, last_ts, record_poll

    def write_sample() -> float:
        ts = max(int(time.time()) + 1, (last_ts(db, event_id) or 0) + 1)  # newer than the clients' start
        record_poll(db, event_id, ts, [Reading(sid, "live", 1234) for sid in streams])
        db.commit()
        written = time.perf_counter()
        publish(event_id)  # Redis when configured; without it the server's hub polls the database
        return written

    def newest() -> int:
        db.commit()
        return db.executesql(f"SELECT MAX(id) FROM lp_sample WHERE event_id = {int(event_id)}")[0][0]

    return [asyncio.run(_fan_out(base, event_id, newest(), clients, write_sample)) for _ in range(rounds)]


def run_child(args: argparse.Namespace) -> None:
    from shared.db import get_db, migrate

    migrate()
    db = get_db()
    started = time.perf_counter()
    event_id, streams, polls = generate(db, args.days, args.interval, args.streams)
    print(f"  generated {polls:,} totals + {polls * len(streams):,} stream samples in "
          f"{time.perf_counter() - started:.1f} s")
    from apps.livepulse.rollup import roll_up_event

    started = time.perf_counter()
    buckets = roll_up_event(db, event_id, time.time())
    print(f"  rolled up {buckets:,} 5-minute rows in {time.perf_counter() - started:.1f} s")
    minutes = int(args.days * 1440)
    server, base = start_server(dict(os.environ))
    try:
        p50, p95, points = bench_history(base, event_id, minutes, args.requests)
        print(f"  history {args.days:g} d, streams=1 ({points} points/series): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        p50, p95, points = bench_history(base, event_id, 180, args.requests)
        print(f"  history 3 h, streams=1 ({points} points/series, raw): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        rows, rate, growth, peak = bench_csv(base, event_id, worker_pid(server.pid), minutes)
        print(f"  CSV all streams: {rows:,} rows at {rate:,.0f} rows/s; server memory +{growth:.1f} MB "
              f"(peak +{peak:.1f} MB)")
        for connected, median, worst in bench_sse(base, db, event_id, streams, args.clients):
            print(f"  SSE {args.clients} clients (connected in {connected:.1f} s): sample → all clients "
                  f"{worst * 1000:.0f} ms (median {median * 1000:.0f} ms)")
    finally:
        server.terminate()
        server.wait(10)


# -- the parent: one child per backend ----------------------------------------------------------------
def postgres_database(create: bool) -> None:
    import psycopg2

    connection = psycopg2.connect(PG_ADMIN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (PG_DB,))
        cursor.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        if create:
            cursor.execute(f"CREATE DATABASE {PG_DB}")
    connection.close()


def main() -> None:
    args = parse_args()
    if args.child:
        run_child(args)
        return
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    passed = [flag for flag in sys.argv[1:] if flag != "--backend" and flag not in backends + ("both",)]
    for backend in backends:
        print(f"{backend}{' + Redis' if backend == 'postgres' else ''}:", flush=True)
        with tempfile.TemporaryDirectory(prefix="wb-bench-") as var_dir:
            if backend == "postgres":
                postgres_database(create=True)
            try:
                subprocess.run([sys.executable, __file__, "--child", backend, *passed], cwd=ROOT,
                               env=environment(backend, var_dir, args.clients), check=True)
            finally:
                if backend == "postgres":
                    postgres_database(create=False)


if __name__ == "__main__":
    main()
