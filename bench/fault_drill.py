"""Fault drill against a running WaddleBot: signed EventSub webhooks at a steady rate while the
PostgreSQL backends are terminated and Redis is paused, then the figures a user wants to see.

Every notification has a message id of this run; one that is not acknowledged (a 5xx, a
refused connection) is sent again a second later with a fresh signature, as Twitch retries, until
--drain seconds after the load ends. A share of the acknowledged ones is sent again on purpose
(Twitch's own duplicates). Faults, each logged with its time:
  - every --kill-every s: pg_terminate_backend on every other backend of the database of --dsn
  - every --pause-every s: CLIENT PAUSE --pause-ms ALL on --redis-url
Printed: offered (unique notifications), acknowledged (2xx), stored (rows in eventsub_event),
lost (acknowledged, not stored), duplicated (an event or activity stored twice), 5xx answers
(503 = "retry", others = bugs), errors without an answer, and per fault the time until the
receiver acknowledged again. Usage (the server needs TWITCH_WEBHOOK_SECRET = --secret):
    .venv/bin/python bench/fault_drill.py --url http://127.0.0.1:8731 --secret SECRET \\
        --dsn postgresql://postgres@127.0.0.1:5432/waddlebot --redis-url redis://127.0.0.1:6379/0 \\
        [--seconds 60] [--rate 100] [--kill-every 10] [--pause-every 15] [--pause-ms 3000]
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.twitch import eventsub as wire  # noqa: E402

PATH = "/twitch_webhooks/webhook"
EVENT_TYPES = ["channel.follow", "channel.subscribe", "channel.cheer", "channel.raid"]


@dataclass
class Tally:
    """What the load saw; `attempts` is (start, end, status or 0 when no answer) per request."""

    offered: int = 0
    acknowledged: set = field(default_factory=set)
    attempts: list = field(default_factory=list)
    faults: list = field(default_factory=list)  # (time, description)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    def __init__(self, args, run_id: str, tally: Tally):
        self.args, self.run_id, self.tally = args, run_id, tally
        self.retries: list[tuple[float, str, str]] = []  # heap of (due, message id, event type)
        self.retry_lock = threading.Lock()
        self.in_flight = 0
        self.local = threading.local()
        self.rng = random.Random(7)

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, message_id: str, event_type: str, duplicate: bool = False) -> None:
        """POST one notification (freshly signed); an unacknowledged one is retried a second later."""
        headers, body = wire.notification(self.args.secret, event_type, message_id=message_id)
        started, status = time.monotonic(), 0
        try:
            status = self._session().post(self.args.url + PATH, data=body, headers=headers, timeout=30).status_code
        except requests.RequestException:
            self.local.__dict__.pop("session", None)
        ended = time.monotonic()
        with self.tally.lock:
            self.tally.attempts.append((started, ended, status))
            if 200 <= status < 300:
                self.tally.acknowledged.add(message_id)
        with self.retry_lock:
            self.in_flight -= 1
            if not 200 <= status < 300 and not duplicate:
                heapq.heappush(self.retries, (ended + 1.0, message_id, event_type))

    def _submit(self, pool: ThreadPoolExecutor, *args) -> None:
        with self.retry_lock:
            self.in_flight += 1
        pool.submit(self.send, *args)

    def run(self, pool: ThreadPoolExecutor, until: float, drain_until: float) -> None:
        """Offer --rate new notifications per second until `until`; retry until everything is
        acknowledged or `drain_until`."""
        interval, number, next_at = 1.0 / self.args.rate, 0, time.monotonic()
        while True:
            now = time.monotonic()
            if now < until and now >= next_at:
                number += 1
                message_id = f"drill-{self.run_id}-{number}"
                self.tally.offered += 1
                self._submit(pool, message_id, self.rng.choice(EVENT_TYPES))
                if self.rng.random() < self.args.duplicates and self.tally.acknowledged:
                    self._submit(pool, self.rng.choice(tuple(self.tally.acknowledged)), "channel.follow", True)
                next_at += interval
            with self.retry_lock:
                due = []
                while self.retries and self.retries[0][0] <= now:
                    due.append(heapq.heappop(self.retries))
            for _, message_id, event_type in due:
                self._submit(pool, message_id, event_type)
            if now >= until and (now >= drain_until or (not self.retries and not self.in_flight)):
                return
            time.sleep(min(interval, 0.005))


def inject_faults(args, tally: Tally, until: float, stop: threading.Event) -> None:
    """Terminate the database's backends and pause Redis on their schedules until `until`."""
    start = time.monotonic()
    next_kill = start + args.kill_every if args.dsn and args.kill_every else float("inf")
    next_pause = start + args.pause_every if args.redis_url and args.pause_every else float("inf")
    while not stop.wait(0.05) and time.monotonic() < until:
        now = time.monotonic()
        if now >= next_kill:
            next_kill += args.kill_every
            with psycopg2.connect(args.dsn) as conn, conn.cursor() as cursor:
                cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                killed = cursor.fetchone()[0]
            conn.close()
            tally.faults.append((now, f"terminated {killed} PostgreSQL backends"))
        if now >= next_pause:
            next_pause += args.pause_every
            redis.Redis.from_url(args.redis_url).execute_command("CLIENT", "PAUSE", args.pause_ms, "ALL")
            tally.faults.append((now, f"paused Redis for {args.pause_ms} ms"))


def stored(args, run_id: str) -> tuple[set[str], int, int]:
    """The run's message ids stored, and how many events and activities are stored twice."""
    with psycopg2.connect(args.dsn) as conn, conn.cursor() as cursor:
        pattern = f"drill-{run_id}-%"
        cursor.execute("SELECT message_id FROM eventsub_event WHERE message_id LIKE %s", (pattern,))
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) - count(DISTINCT source_id) FROM activity WHERE source_id LIKE %s",
                       (pattern,))
        activity_duplicates = cursor.fetchone()[0]
    conn.close()
    return set(ids), len(ids) - len(set(ids)), activity_duplicates


def recovery(tally: Tally, fault_at: float, next_fault: float) -> tuple[int, float]:
    """Failed answers that came after a fault (before the next), and the time from the fault until
    the first acknowledgement of a request sent after the last of those failed ones was sent (0
    when none failed)."""
    failures = [start for start, end, status in tally.attempts
                if fault_at <= end < next_fault and not 200 <= status < 300]
    if not failures:
        return 0, 0.0
    last_failure = max(failures)
    recovered = [end for start, end, status in tally.attempts if start > last_failure and 200 <= status < 300]
    return len(failures), (min(recovered) - fault_at) if recovered else float("nan")


def report(args, run_id: str, tally: Tally, started: float, health: str) -> None:
    ids, event_duplicates, activity_duplicates = stored(args, run_id) if args.dsn else (set(), 0, 0)
    statuses = [status for _, _, status in tally.attempts]
    lost = tally.acknowledged - ids if args.dsn else set()
    print(f"run {run_id}: {args.seconds:g} s at {args.rate:g}/s against {args.url}")
    print(f"offered        {tally.offered}")
    print(f"acknowledged   {len(tally.acknowledged)}  ({len(statuses)} requests, retries and duplicates included)")
    print(f"stored         {len(ids) if args.dsn else 'n/a (no --dsn)'}")
    print(f"lost           {len(lost)}  (acknowledged, not stored)")
    print(f"duplicated     {event_duplicates} events, {activity_duplicates} activities")
    print(f"5xx            {sum(500 <= s < 600 for s in statuses)}  (503: {statuses.count(503)}, "
          f"other 5xx: {sum(500 <= s < 600 and s != 503 for s in statuses)})")
    print(f"no answer      {statuses.count(0)}")
    print(f"unacknowledged {tally.offered - len(tally.acknowledged)}  (still failing when the drain ended)")
    window = min(10.0, args.seconds / 3)
    acks = [end - started for _, end, status in tally.attempts if 200 <= status < 300]
    first, last = (sum(low <= moment < high for moment in acks) / window
                   for low, high in ((0, window), (args.seconds - window, args.seconds)))
    print(f"throughput     {first:.0f}/s acknowledged in the first {window:g} s, {last:.0f}/s in the last {window:g} s")
    times = [moment for moment, _ in tally.faults] + [float("inf")]
    for (moment, what), following in zip(tally.faults, times[1:], strict=False):
        failed, seconds = recovery(tally, moment, following)
        print(f"  t={moment - started:6.1f} s  {what:<38} failed answers {failed:4d}  recovered in {seconds:5.2f} s")
    print(f"health after   {health}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the WaddleBot base URL, e.g. http://127.0.0.1:8731")
    parser.add_argument("--secret", required=True, help="the server's TWITCH_WEBHOOK_SECRET")
    parser.add_argument("--dsn", help="PostgreSQL DSN of the server's database (kills and counting)")
    parser.add_argument("--redis-url", help="the server's REDIS_URL (CLIENT PAUSE)")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the load")
    parser.add_argument("--rate", type=float, default=100.0, help="new notifications per second")
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of acknowledged ones sent again")
    parser.add_argument("--kill-every", type=float, default=10.0, help="seconds between backend kills (0: none)")
    parser.add_argument("--pause-every", type=float, default=15.0, help="seconds between Redis pauses (0: none)")
    parser.add_argument("--pause-ms", type=int, default=3000, help="length of each Redis pause")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to keep retrying after the load")
    args = parser.parse_args()
    args.url = args.url.rstrip("/")
    run_id, tally, stop = uuid.uuid4().hex[:8], Tally(), threading.Event()
    started = time.monotonic()
    until = started + args.seconds
    faults = threading.Thread(target=inject_faults, args=(args, tally, until, stop), daemon=True)
    faults.start()
    with ThreadPoolExecutor(args.concurrency) as pool:
        Load(args, run_id, tally).run(pool, until, until + args.drain)
    stop.set()
    try:
        health = requests.get(args.url + "/health", timeout=10).json()
        health = ", ".join(f"{name} {part.get('status')}" for name, part in health.get("components", {}).items()
                           if isinstance(part, dict))
    except (requests.RequestException, ValueError) as err:
        health = f"unreachable ({err.__class__.__name__})"
    report(args, run_id, tally, started, health)


if __name__ == "__main__":
    main()
