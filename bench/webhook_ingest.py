"""EventSub webhook ingest: the server started as a user would (`migrate`, then `web`), fed
pre-signed, Twitch-shaped notifications by a separate process (asyncio, one thread, keep-alive).

Phase 1 (closed loop): fixed concurrency for --seconds (30; --quick 10) with 5 % duplicates
and 1 % bad signatures → throughput, p50/p99, and the checks: stored events == unique valid
events acknowledged, activities == expected, no duplicate rows, no bad event accepted.
Phase 2 (open loop): 500 events/s offered → p50/p99 (latency counted from the scheduled send).
Both on the embedded default (SQLite in a temporary var dir), then on a fresh PostgreSQL database
this script creates and drops. Usage:
    .venv/bin/python bench/webhook_ingest.py [--quick] [--seconds 30] [--concurrency 16]
        [--rate 500] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--skip-postgres]
        [--workers 2 --redis-url redis://127.0.0.1:6379/0]   (scale-out: WEB_WORKERS processes)
    .venv/bin/python bench/webhook_ingest.py --peers [--rounds 3] [--peer-seconds 8]
    .venv/bin/python bench/webhook_ingest.py --prefilled 1000000 [--rounds 3] [--peer-seconds 8]

--peers runs the same pre-signed closed-loop load (concurrency 16), in interleaved rounds, against
our receiver on SQLite and on PostgreSQL, twitchAPI's EventSubWebhook, TwitchIO 3's AiohttpAdapter
(both storing nothing) and a bare Granian WSGI app that only checks the HMAC (the ceiling); the
peers run in their own virtualenv (bench/peers.py, bench/peer_servers.py). It prints throughput,
p50/p99 and the server's CPU per request (its whole process tree), the ratios, and checks ours
stored every acknowledged event. Targets (issue 18): ours >= 1.5x TwitchIO and >= twitchAPI on
both engines, >= 30 % of the bare server.
--prefilled N compares ours on SQLite, empty and with N events (and their activities and outbox
rows) stored, the same way. Target (issue 18): with a million, within 5 % of the empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modules.twitch import eventsub as wire  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
PATH = "/twitch_webhooks/webhook"
ACTIVITY_TYPES = {"channel.follow", "channel.subscribe", "channel.subscription.message", "channel.cheer",
                  "channel.raid", "channel.subscription.gift", "channel.ban"}
TYPES = [name for name, _ in wire.STANDARD_TYPES]
#: one subscription per type, as a channel's standard set has them: Twitch sends its id in every message
SUBSCRIPTION_IDS = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"waddlebot-bench/{name}")) for name in TYPES}


# --- messages ----------------------------------------------------------------------------------
def build_messages(count: int, seed: int, duplicates: float, bad: float) -> list[tuple[str, str, dict, bytes]]:
    """(kind, message id, headers, body): kind is new, dup (an earlier new one again) or bad."""
    rng = random.Random(seed)
    messages, originals = [], []
    for _ in range(count):
        roll = rng.random()
        if roll < bad:
            event_type = rng.choice(TYPES)
            headers, body = wire.notification(SECRET, event_type, message_id=str(uuid.uuid4()), rng=rng,
                                              subscription_id=SUBSCRIPTION_IDS[event_type])
            headers = {**headers, wire.MESSAGE_SIGNATURE: f"sha256={rng.getrandbits(256):064x}"}
            messages.append(("bad", headers[wire.MESSAGE_ID], headers, body))
        elif roll < bad + duplicates and originals:
            messages.append(("dup", *rng.choice(originals)[1:]))
        else:
            event_type = rng.choice(TYPES)
            headers, body = wire.notification(SECRET, event_type, message_id=str(uuid.uuid4()), rng=rng,
                                              subscription_id=SUBSCRIPTION_IDS[event_type])
            message = ("new", headers[wire.MESSAGE_ID], headers, body)
            messages.append(message)
            originals.append(message)
    return messages


def raw_request(host: str, headers: dict, body: bytes, path: str = PATH) -> bytes:
    """One HTTP/1.1 keep-alive POST, serialised before the clock starts."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection of the asyncio load generator (one process, one thread: no GIL
    contention of its own in the measured latency)."""

    def __init__(self, address):
        self.address, self.reader, self.writer = address, None, None

    async def post(self, request: bytes) -> tuple[int, str]:
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.address.hostname, self.address.port)
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
                fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
                data = await self.reader.readexactly(int(fields.get(b"content-length", b"0")))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.close()
                if attempt == 2:
                    return 0, "connection failed"
                continue
            if fields.get(b"connection", b"").lower() == b"close":
                self.close()
            try:
                return status, json.loads(data).get("status", "")
            except ValueError:
                return status, ""
        return 0, ""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --- load generator (its own process) -----------------------------------------------------------
async def closed_loop(base_url: str, requests: list[bytes], concurrency: int, seconds: float) -> dict:
    position, deadline = iter(range(len(requests))), time.monotonic() + seconds
    results: list[tuple[int, int, str, float]] = []

    async def work():
        connection = Connection(urlsplit(base_url))
        while time.monotonic() < deadline:
            index = next(position, None)
            if index is None:
                break
            started = time.perf_counter()
            status, outcome = await connection.post(requests[index])
            results.append((index, status, outcome, time.perf_counter() - started))
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(work() for _ in range(concurrency)))
    return {"results": results, "elapsed": time.monotonic() - started}


async def open_loop(base_url: str, requests: list[bytes], rate: float, seconds: float, connections: int = 48) -> dict:
    """Message i is due at start + i/rate; latency counts from that moment (late sends included)."""
    total = min(len(requests), int(rate * seconds))
    start = time.monotonic() + 0.2
    results: list[tuple[int, int, str, float]] = []

    async def work(offset: int):
        connection = Connection(urlsplit(base_url))
        for index in range(offset, total, connections):
            due = start + index / rate
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            status, outcome = await connection.post(requests[index])
            results.append((index, status, outcome, time.monotonic() - due))
        connection.close()

    await asyncio.gather(*(work(offset) for offset in range(connections)))
    return {"results": results, "elapsed": time.monotonic() - start}


def generator(connection, base_url: str, mode: str, count: int, seed: int, duplicates: float, bad: float,
              load: dict) -> None:
    messages = build_messages(count, seed, duplicates, bad)  # signed and serialised before the clock starts
    address = urlsplit(base_url)
    requests = [raw_request(address.netloc, headers, body, address.path or PATH) for _, _, headers, body in messages]
    connection.send("ready")
    run = closed_loop if mode == "closed" else open_loop
    outcome = asyncio.run(run(base_url, requests, **load))
    outcome["messages"] = [(kind, message_id, json.loads(body)["subscription"]["type"])
                           for kind, message_id, _, body in messages]
    connection.send(outcome)


def fire(base_url: str, mode: str, count: int, seed: int, load: dict, duplicates: float = 0.05,
         bad: float = 0.01) -> dict:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=generator, args=(child, base_url, mode, count, seed, duplicates, bad, load))
    process.start()
    assert parent.recv() == "ready"
    outcome = parent.recv()
    process.join()
    return outcome


# --- the server, as a user starts it -----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(var_dir: str, database_url: str, port: int, args) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TWITCH_", "REDIS_", "WEB_"))}
    env.update(WADDLEBOT_ENV="development", WADDLEBOT_VAR_DIR=var_dir, DATABASE_URL=database_url,
               TWITCH_WEBHOOK_SECRET=SECRET, PUBLIC_URL=f"http://127.0.0.1:{port}", LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT), WEB_WORKERS=str(args.workers), REDIS_URL=args.redis_url,
               REDIS_KEY_PREFIX=f"waddlebot-bench-{os.getpid()}-{port}:")
    return env


def start_server(env: dict, port: int) -> subprocess.Popen:
    cli = [sys.executable, "-m", "shared.cli"]
    subprocess.run(cli + ["migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    log = Path(env["WADDLEBOT_VAR_DIR"]) / "web.log"  # a file, not a pipe: nothing reads it during the run
    with log.open("wb") as output:
        server = subprocess.Popen(cli + ["web", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=output)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("the web server exited: " + log.read_text(errors="replace")[-2000:]) from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the web server did not start within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- figures and checks ------------------------------------------------------------------------
def stored_state(database_url: str, var_dir: str) -> dict:
    queries = {"events": "SELECT COUNT(*) FROM eventsub_event", "activities": "SELECT COUNT(*) FROM activity",
               "outbox": "SELECT COUNT(*) FROM outbox",
               "duplicate_rows": "SELECT COUNT(*) FROM (SELECT message_id FROM eventsub_event GROUP BY message_id"
                                 " HAVING COUNT(*) > 1) AS twice"}
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(Path(var_dir) / "db" / database_url.split("://", 1)[1])
    else:
        import psycopg2

        conn = psycopg2.connect(database_url)
    try:
        cursor = conn.cursor()
        state = {}
        for name, sql in queries.items():
            cursor.execute(sql)
            state[name] = cursor.fetchone()[0]
        cursor.execute("SELECT message_id FROM eventsub_event")
        state["ids"] = {row[0] for row in cursor.fetchall()}
        return state
    finally:
        conn.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


def summarize(outcome: dict, before: dict, after: dict) -> dict:
    messages = outcome["messages"]
    acknowledged = {messages[index][1] for index, status, _, _ in outcome["results"]
                    if 200 <= status < 300 and messages[index][0] != "bad"}
    bad_sent = {messages[index][1] for index, *_ in outcome["results"] if messages[index][0] == "bad"}
    bad_accepted = sum(1 for index, status, *_ in outcome["results"] if messages[index][0] == "bad" and status != 403)
    types = {message_id: event_type for _, message_id, event_type in messages}
    new_ids = after["ids"] - before["ids"]
    errors = sum(1 for index, status, *_ in outcome["results"] if messages[index][0] != "bad" and not
                 200 <= status < 300)
    return {
        "sent": len(outcome["results"]), "elapsed": outcome["elapsed"],
        "throughput": len(outcome["results"]) / outcome["elapsed"],
        "p50": percentile([item[3] for item in outcome["results"]], 0.50),
        "p99": percentile([item[3] for item in outcome["results"]], 0.99),
        "unique_valid": len(acknowledged), "stored": after["events"] - before["events"],
        "activities": after["activities"] - before["activities"],
        "expected_activities": sum(1 for message_id in acknowledged if types[message_id] in ACTIVITY_TYPES),
        "duplicate_rows": after["duplicate_rows"], "bad_sent": len(bad_sent), "bad_accepted": bad_accepted,
        "bad_stored": len(bad_sent & new_ids), "errors": errors,
        "exact": new_ids == acknowledged,
    }


def report(name: str, figures: dict) -> bool:
    checks = {
        "stored events == unique valid events acknowledged": figures["stored"] == figures["unique_valid"]
        and figures["exact"],
        "activities == expected": figures["activities"] == figures["expected_activities"],
        "no duplicate rows": figures["duplicate_rows"] == 0,
        "no bad event accepted": figures["bad_accepted"] == 0 and figures["bad_stored"] == 0,
        "no valid event refused": figures["errors"] == 0,
    }
    print(f"  {name}: {figures['sent']} requests in {figures['elapsed']:.1f} s = {figures['throughput']:.0f}/s, "
          f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms")
    print(f"    stored {figures['stored']} / unique valid {figures['unique_valid']}, activities "
          f"{figures['activities']} / expected {figures['expected_activities']}, duplicate rows "
          f"{figures['duplicate_rows']}, bad sent {figures['bad_sent']} accepted {figures['bad_accepted']}, "
          f"valid refused {figures['errors']}")
    for label, passed in checks.items():
        print(f"    [{'ok' if passed else 'FAIL'}] {label}")
    return all(checks.values())


def bench_backend(label: str, database_url: str, args) -> bool:
    with tempfile.TemporaryDirectory(prefix="waddlebot-bench-") as var_dir:
        port = free_port()
        server = start_server(server_env(var_dir, database_url, port, args), port)
        base_url = f"http://127.0.0.1:{port}"
        try:
            print(f"{label}: server on {base_url} ({database_url.split('://')[0]})")
            before = stored_state(database_url, var_dir)
            outcome = fire(base_url, "closed", int(args.seconds * 2000), 1,
                           {"concurrency": args.concurrency, "seconds": args.seconds})
            closed_ok = report(f"closed loop, concurrency {args.concurrency}", summarize(
                outcome, before, stored := stored_state(database_url, var_dir)))
            outcome = fire(base_url, "open", int(args.rate * args.rate_seconds) + 10, 2,
                           {"rate": args.rate, "seconds": args.rate_seconds})
            open_ok = report(f"open loop, {args.rate:.0f}/s offered", summarize(
                outcome, stored, stored_state(database_url, var_dir)))
        finally:
            stop_server(server)
    return closed_ok and open_ok


def postgres_database(admin_url: str, name: str, create: bool) -> str:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        conn.cursor().execute(f"{'CREATE' if create else 'DROP'} DATABASE {'' if create else 'IF EXISTS '}{name}")
    finally:
        conn.close()
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="closed-loop duration")
    parser.add_argument("--quick", action="store_true", help="10 s closed loop, 5 s open loop")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=500.0, help="events/s offered in the open loop")
    parser.add_argument("--rate-seconds", type=float, default=15.0)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server (a database is created on it and dropped)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="WEB_WORKERS of the server (above 1 needs --redis-url)")
    parser.add_argument("--redis-url", default="", help="REDIS_URL of the server (default: none, as embedded)")
    parser.add_argument("--peers", action="store_true", help="compare with twitchAPI, TwitchIO and a bare server")
    parser.add_argument("--rounds", type=int, default=3, help="--peers: interleaved rounds")
    parser.add_argument("--peer-seconds", type=float, default=8.0, help="--peers: closed-loop seconds per receiver")
    parser.add_argument("--prefilled", type=int, default=0,
                        help="compare ours on SQLite empty and with this many events stored (interleaved rounds)")
    args = parser.parse_args()
    if args.peers or args.prefilled:
        from webhook_peers import compare, compare_prefilled

        return compare_prefilled(args) if args.prefilled else compare(args)
    if args.workers > 1 and not args.redis_url:
        parser.error("--workers above 1 needs --redis-url (the web processes share their state through Redis)")
    if args.quick:
        args.seconds, args.rate_seconds = 10.0, 5.0
    print(f"EventSub webhook ingest: {args.seconds:.0f} s closed loop (5 % duplicates, 1 % bad signatures), "
          f"{args.rate_seconds:.0f} s at {args.rate:.0f}/s; {os.cpu_count()} CPUs; {args.workers} web process(es)"
          + (", Redis" if args.redis_url else ""))
    ok = bench_backend("embedded (SQLite)", "sqlite://waddlebot.sqlite", args)
    if not args.skip_postgres:
        name = f"wb_bench_ingest_{os.getpid()}"
        url = postgres_database(args.pg_url, name, create=True)
        try:
            ok = bench_backend("PostgreSQL", url, args) and ok
        finally:
            postgres_database(args.pg_url, name, create=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
