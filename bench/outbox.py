"""Outbox throughput: N activities through one dispatcher to a stub reputation API on 127.0.0.1.

Prints deliveries per second and checks that every activity arrived exactly once.
Usage: .venv/bin/python bench/outbox.py [--activities 50000] [--database-url sqlite://bench.sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class StubProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive endpoint: a stub must not be the bottleneck it measures."""

    RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def __init__(self, received: list[int]):
        self.received = received
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
            self.received.append(json.loads(body)["activity_id"])
            self.transport.write(self.RESPONSE)


def stub_server(port_queue, results_queue, stop_event) -> None:
    """The reputation API stub, in its own process: records every activity id it receives."""
    received: list[int] = []

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: StubProtocol(received), "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        while not stop_event.is_set():
            await asyncio.sleep(0.1)
        server.close()

    asyncio.run(serve())
    results_queue.put(received)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=50000)
    parser.add_argument("--database-url", default="sqlite://bench.sqlite")
    args = parser.parse_args()

    ports, results, stop = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Event()
    stub = multiprocessing.Process(target=stub_server, args=(ports, results, stop), daemon=True)
    stub.start()
    port = ports.get(timeout=10)
    os.environ.update({"WADDLEBOT_VAR_DIR": tempfile.mkdtemp(prefix="waddlebot-bench-"),
                       "DATABASE_URL": args.database_url, "REDIS_URL": "", "LOG_LEVEL": "WARNING",
                       "REPUTATION_API_URL": f"http://127.0.0.1:{port}/activities", "CONTEXT_API_URL": ""})

    from shared.db import get_db, migrate
    from shared.outbox import Dispatcher, record_activity

    migrate()
    db = get_db()
    started = time.perf_counter()
    for n in range(args.activities):
        record_activity(db, activity_type="channel.follow", points=10, source="bench", source_id=str(n),
                        channel_id="1", user_id=str(n), user_login=f"viewer{n}")
        if n % 1000 == 999:
            db.commit()
    db.commit()
    print(f"recorded {args.activities} activities in {time.perf_counter() - started:.1f} s "
          f"on {db._dbname}")

    dispatcher = Dispatcher(db)
    started, cpu_started = time.perf_counter(), time.process_time()
    while dispatcher.run_once():
        pass
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    dispatcher.pool.shutdown()
    stop.set()
    received = results.get(timeout=30)
    stub.join(5)

    expected = {row.id for row in db(db.activity).select(db.activity.id)}
    duplicates = len(received) - len(set(received))
    print(f"delivered {len(received)} activities in {elapsed:.1f} s: {len(received) / elapsed:,.0f} deliveries/s "
          f"(one dispatcher, OUTBOX_CONCURRENCY={dispatcher.settings.outbox_concurrency})")
    print(f"dispatcher CPU: {cpu:.1f} s = {len(received) / cpu:,.0f} deliveries per CPU-second "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"every activity arrived exactly once: {set(received) == expected and duplicates == 0} "
          f"(missing {len(expected - set(received))}, duplicates {duplicates})")


if __name__ == "__main__":
    main()
