"""Outbox throughput: N activities through one dispatcher to a stub reputation API on 127.0.0.1.

Prints deliveries per second and checks that every activity arrived exactly once.
Usage: .venv/bin/python bench/outbox.py [--activities 50000] [--database-url sqlite://bench.sqlite]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def stub_server(port_queue, results_queue, stop_event) -> None:
    """A reputation API stub in its own process: records every activity id it receives."""
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body in one segment, as real servers do

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body)["activity_id"])
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_port)
    server.timeout = 0.2
    while not stop_event.is_set():
        server.handle_request()
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
    started = time.perf_counter()
    while dispatcher.run_once():
        pass
    elapsed = time.perf_counter() - started
    dispatcher.pool.shutdown()
    stop.set()
    received = results.get(timeout=30)
    stub.join(5)

    expected = {row.id for row in db(db.activity).select(db.activity.id)}
    duplicates = len(received) - len(set(received))
    print(f"delivered {len(received)} activities in {elapsed:.1f} s: {len(received) / elapsed:,.0f} deliveries/s "
          f"(one dispatcher, OUTBOX_CONCURRENCY={dispatcher.settings.outbox_concurrency})")
    print(f"every activity arrived exactly once: {set(received) == expected and duplicates == 0} "
          f"(missing {len(expected - set(received))}, duplicates {duplicates})")


if __name__ == "__main__":
    main()
