"""Benchmark of helix_proxy against a Twitch-like stub Helix on 127.0.0.1. Prints figures, asserts nothing.

    .venv/bin/python bench/helix_proxy.py [--quick] [--overload-seconds 60] [--redis-url redis://…]
        [--workers 2]   (WEB_WORKERS proxy processes; needs --redis-url)

The stub enforces Twitch's bucket (800 points a minute per token, refilled continuously) and sends
the Ratelimit-* headers. The proxy runs as a real server (`python -m shared.cli web`) in a child
process whose TWITCH_HELIX_URL / TWITCH_ID_URL point at the stub. Figures:
(a) cache-hit throughput and latency with 32 concurrent clients;
(b) the latency a miss adds over calling the stub directly (median);
(c) tenfold overload: upstream request rate against the configured limit, and upstream 429s;
(d) 100 concurrent identical misses → upstream calls.
(e) cache hits against the ceiling: interleaved wrk rounds against the proxy and a bare Granian WSGI
    app answering the same bytes (bench/peer_servers.py, in the peers' virtualenv), and the ratios.
    Target (issue 18): throughput >= 50 % of the ceiling's, p99 <= 2x the ceiling's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TWITCH_POINTS_PER_MINUTE = 800


class TwitchBucket:
    """Twitch's rate limit: `limit` points refilled continuously over a minute."""

    def __init__(self, limit: float):
        self.limit, self.rate = limit, limit / 60.0
        self.tokens, self.stamp = float(limit), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> tuple[bool, int, int]:
        """(granted, points remaining, Unix time the bucket is full again)."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.limit, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            granted = self.tokens >= 1
            if granted:
                self.tokens -= 1
            return granted, int(self.tokens), int(time.time() + (self.limit - self.tokens) / self.rate) + 1


class Stub(ThreadingHTTPServer):
    """Helix users and chat/chatters plus the client-credentials token endpoint."""

    daemon_threads = True

    def __init__(self, limit: float):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.limit = limit
        self.buckets: dict[str, TwitchBucket] = {}
        self.log: list[tuple[float, str, int]] = []  # (time, path?query, status)
        self.delay = 0.0
        self.lock = threading.Lock()

    def bucket(self, authorization: str) -> TwitchBucket:
        with self.lock:
            return self.buckets.setdefault(authorization, TwitchBucket(self.limit))

    def record(self, target: str, status: int) -> None:
        with self.lock:
            self.log.append((time.monotonic(), target, status))

    def count(self, since: float, until: float = float("inf"), contains: str = "", status: int | None = None) -> int:
        with self.lock:
            return sum(1 for at, target, code in self.log
                       if since <= at < until and contains in target and (status is None or code == status))


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else the body waits for the ACK of the headers (40 ms)

    def log_message(self, *args):
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(200, {"access_token": "bench-app-token", "expires_in": 3600, "token_type": "bearer"})

    def do_GET(self):
        stub: Stub = self.server
        granted, remaining, reset = stub.bucket(self.headers.get("Authorization", "")).take()
        limits = {"Ratelimit-Limit": str(int(stub.limit)), "Ratelimit-Remaining": str(remaining),
                  "Ratelimit-Reset": str(reset)}
        parts = urlsplit(self.path)
        if stub.delay:
            time.sleep(stub.delay)
        if not granted:
            stub.record(self.path, 429)
            self._send(429, {"error": "Too Many Requests", "status": 429, "message": "rate limit exceeded"}, limits)
            return
        stub.record(self.path, 200)
        query = parse_qs(parts.query)
        if parts.path.endswith("/users"):
            data = [{"id": user_id, "login": f"user{user_id}", "display_name": f"User{user_id}", "type": "",
                     "broadcaster_type": "partner", "description": "A bench user " * 8,
                     "profile_image_url": f"https://static-cdn.jtvnw.net/u/{user_id}.png",
                     "created_at": "2016-12-14T20:32:28Z"} for user_id in query.get("id", [])]
            self._send(200, {"data": data}, limits)
        else:
            self._send(200, {"data": [{"user_id": str(n), "user_login": f"viewer{n}", "user_name": f"Viewer{n}"}
                                      for n in range(20)], "pagination": {}, "total": 20}, limits)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Proxy:
    """`waddlebot web` in a child process, configured against the stub."""

    def __init__(self, stub: Stub, workdir: str, redis_url: str, **settings: str):
        self.port = free_port()
        stub_url = f"http://127.0.0.1:{stub.server_address[1]}"
        env = {**os.environ, "WADDLEBOT_ENV": "development", "WADDLEBOT_VAR_DIR": workdir,
               "DATABASE_URL": "sqlite://bench.sqlite", "REDIS_URL": redis_url, "LOG_LEVEL": "INFO",
               "TWITCH_APP_ID": "bench-client-id", "TWITCH_APP_SECRET": "bench-secret",
               "TWITCH_HELIX_URL": f"{stub_url}/helix", "TWITCH_ID_URL": f"{stub_url}/oauth2",
               "REDIS_KEY_PREFIX": f"waddlebot-bench-{os.getpid()}-{self.port}:", **settings}
        self.log = open(Path(workdir) / f"proxy-{self.port}.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen([sys.executable, "-m", "shared.cli", "web", "--host", "127.0.0.1",
                                         "--port", str(self.port)], cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(self.port, "/helix_proxy/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the proxy did not start; see {self.log.name}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def get(port: int, target: str, headers: dict | None = None,
        connection: http.client.HTTPConnection | None = None) -> tuple[int, str, float]:
    """(status, X-Cache, seconds) of one GET; reuses `connection` (keep-alive) when given."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("GET", target, headers=headers or {})
    answer = conn.getresponse()
    answer.read()
    elapsed = time.perf_counter() - started
    if connection is None:
        conn.close()
    return answer.status, answer.getheader("X-Cache", "-"), elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_cache_hits(proxy: Proxy, clients: int, seconds: float) -> None:
    """wrk (a load generator in C, Debian package `wrk`) drives the keep-alive clients: a Python
    generator on these 2 cores would take the CPU the proxy is being measured with."""
    target = "/helix_proxy/users?id=141981764"
    get(proxy.port, target)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("(a) skipped: install wrk (apt-get install wrk) to measure cache hits")
        return
    command = [wrk, "-t1", f"-c{clients}", "--latency", f"http://127.0.0.1:{proxy.port}{target}"]
    subprocess.run([*command, "-d2s"], capture_output=True, check=True)  # warm-up: the server starts its threads
    report = subprocess.run([*command, f"-d{seconds:.0f}s"], capture_output=True, text=True, check=True).stdout
    figures = dict(re.findall(r"^\s*(50%|99%|Requests/sec:|Non-2xx or 3xx responses:)\s+(\S+)", report, re.M))
    print(f"(a) cache hits, {clients} clients, {seconds:.0f} s after a 2 s warm-up: "
          f"{float(figures['Requests/sec:']):,.0f} requests/s, "
          f"p50 {figures['50%']}, p99 {figures['99%']}, non-2xx {figures.get('Non-2xx or 3xx responses:', 0)} "
          "(target ≥ 2,000/s, p99 ≤ 20 ms)")


def wrk_round(port: int, target: str, clients: int, seconds: float) -> tuple[float, float]:
    """(requests/s, p99 in ms) of one wrk run after a 1 s warm-up."""
    command = [shutil.which("wrk"), "-t1", f"-c{clients}", "--latency", f"http://127.0.0.1:{port}{target}"]
    subprocess.run([*command, "-d1s"], capture_output=True, check=True)
    report = subprocess.run([*command, f"-d{seconds:.0f}s"], capture_output=True, text=True, check=True).stdout
    figures = dict(re.findall(r"^\s*(99%|Requests/sec:)\s+(\S+)", report, re.M))
    p99 = figures["99%"]
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[re.sub(r"[\d.]", "", p99)]
    return float(figures["Requests/sec:"]), float(re.sub(r"[^\d.]", "", p99)) * scale


def bench_ceiling(proxy: Proxy, clients: int, seconds: float, rounds: int) -> None:
    """(e) the proxy's cache hits against a bare Granian app answering the same bytes, interleaved."""
    if shutil.which("wrk") is None:
        print("(e) skipped: install wrk (apt-get install wrk)")
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from peers import peer_python

    target = "/helix_proxy/users?id=141981764"
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    conn.request("GET", target)
    body = conn.getresponse().read()  # the cached answer's bytes, which the bare app serves too
    conn.close()
    port = free_port()
    bare = subprocess.Popen([str(peer_python()), str(ROOT / "bench" / "peer_servers.py"), "bare_get", str(port)],
                            env={**os.environ, "BENCH_BODY": body.decode()}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        ours, ceiling = [], []
        for _ in range(rounds):
            ours.append(wrk_round(proxy.port, target, clients, seconds))
            ceiling.append(wrk_round(port, target, clients, seconds))
    finally:
        bare.terminate()
        bare.wait(15)
    throughput = [a[0] / b[0] for a, b in zip(ours, ceiling, strict=True)]
    p99 = [a[1] / b[1] for a, b in zip(ours, ceiling, strict=True)]
    print(f"(e) cache hits against a bare Granian app, {rounds} interleaved rounds of {seconds:.0f} s, "
          f"{clients} clients "
          f"(load average {os.getloadavg()[0]:.1f}): proxy {statistics.median(r for r, _ in ours):,.0f}/s p99 "
          f"{statistics.median(p for _, p in ours):.1f} ms, ceiling {statistics.median(r for r, _ in ceiling):,.0f}/s "
          f"p99 {statistics.median(p for _, p in ceiling):.1f} ms; throughput {statistics.median(throughput):.2f}x "
          f"the ceiling (target >= 0.5), p99 {statistics.median(p99):.2f}x (target <= 2)")


def bench_miss_overhead(stub: Stub, proxy: Proxy, samples: int) -> None:
    stub_port = stub.server_address[1]
    direct_conn = http.client.HTTPConnection("127.0.0.1", stub_port, timeout=30)
    proxy_conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    twitch_headers = {"Authorization": "Bearer bench-app-token", "Client-Id": "bench-client-id"}
    direct, proxied = [], []
    for n in range(samples):
        direct.append(get(stub_port, f"/helix/users?id={10_000 + n}", twitch_headers, direct_conn)[2])
        status, cache, elapsed = get(proxy.port, f"/helix_proxy/users?id={20_000 + n}", connection=proxy_conn)
        if status == 200 and cache == "MISS":
            proxied.append(elapsed)
    added = statistics.median(proxied) - statistics.median(direct)
    print(f"(b) miss latency, {len(proxied)} sequential misses: stub direct median "
          f"{statistics.median(direct) * 1000:.2f} ms, through the proxy {statistics.median(proxied) * 1000:.2f} ms "
          f"→ added {added * 1000:.2f} ms (target ≤ 3 ms)")


def bench_overload(stub: Stub, proxy: Proxy, limit: float, seconds: float) -> None:
    """Open-loop load at ten times the configured limit on an uncached endpoint."""
    target = "/helix_proxy/chatters?broadcaster_id=1&moderator_id=2"
    headers = {"Authorization": "Bearer bench-moderator-token"}
    slots: queue.Queue = queue.Queue()
    answers: dict[int, int] = {}
    lock = threading.Lock()
    done = object()

    def worker():
        while slots.get() is not done:
            status = get(proxy.port, target, headers)[0]
            with lock:
                answers[status] = answers.get(status, 0) + 1

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(150)]
    for thread in workers:
        thread.start()
    started = time.monotonic()
    offered = int(limit * 10 * seconds)
    for n in range(offered):
        time.sleep(max(0.0, started + n / (limit * 10) - time.monotonic()))
        slots.put(n)
    ended = time.monotonic()
    for _ in workers:
        slots.put(done)
    for thread in workers:
        thread.join()
    warmup = 1.0  # the first second also spends the initial burst (twice the rate)
    upstream = stub.count(started + warmup, ended, "/chat/chatters")
    rate = upstream / (ended - started - warmup)
    throttled = stub.count(started, float("inf"), "/chat/chatters", status=429)
    print(f"(c) overload {seconds:.0f} s at {limit * 10:.0f} requests/s (10× the limit {limit:g}/s): "
          f"upstream {rate:.2f}/s = {rate / limit * 100:.1f} % of the limit "
          f"(deviation {abs(rate - limit) / limit * 100:.1f} %), upstream 429s {throttled}; proxy answers {answers}")


def bench_coalescing(stub: Stub, proxy: Proxy, clients: int) -> None:
    stub.delay = 0.05  # a realistic Helix latency, so the misses really overlap
    target = "/helix_proxy/users?id=777000"
    barrier = threading.Barrier(clients)
    caches: list[str] = []
    lock = threading.Lock()

    def client():
        barrier.wait()
        status, cache, _ = get(proxy.port, target)
        with lock:
            caches.append(f"{status} {cache}")

    since = time.monotonic()
    run_threads(client, clients)
    stub.delay = 0.0
    summary = {answer: caches.count(answer) for answer in sorted(set(caches))}
    print(f"(d) {clients} concurrent identical misses → {stub.count(since, contains='id=777000')} upstream call(s) "
          f"(target 1); answers {summary}")


def run_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s of overload and shorter runs")
    parser.add_argument("--overload-seconds", type=float, default=None, help="duration of (c) (default 60)")
    parser.add_argument("--limit", type=float, default=10.0, help="RATE_LIMIT_REQUESTS_PER_SECOND of (c)")
    parser.add_argument("--redis-url", default="", help="run the proxy with this REDIS_URL (default in memory)")
    parser.add_argument("--workers", type=int, default=1, help="WEB_WORKERS of the proxy (above 1 needs --redis-url)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (e)")
    parser.add_argument("--only-ceiling", action="store_true", help="measure (a) and (e) only")
    args = parser.parse_args()
    if args.workers > 1 and not args.redis_url:
        parser.error("--workers above 1 needs --redis-url (the proxy processes share limits and cache through Redis)")
    overload_seconds = args.overload_seconds or (10.0 if args.quick else 60.0)
    stub = Stub(limit=TWITCH_POINTS_PER_MINUTE)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="waddlebot-bench-") as workdir:
        print(f"stub Helix on 127.0.0.1:{stub.server_address[1]} ({TWITCH_POINTS_PER_MINUTE} points/min per token); "
              f"proxy store: {'redis' if args.redis_url else 'memory'}; {args.workers} web process(es)")
        fast = Proxy(stub, workdir, args.redis_url, RATE_LIMIT_REQUESTS_PER_SECOND="100000",
                     WEB_WORKERS=str(args.workers))
        try:
            stub.limit = 1e9  # (a), (b), (d) measure the proxy, not the quota
            bench_cache_hits(fast, 32, 3.0 if args.quick else 10.0)
            bench_ceiling(fast, 32, 3.0 if args.quick else 5.0, args.rounds)
            if not args.only_ceiling:
                bench_miss_overhead(stub, fast, 100 if args.quick else 300)
                bench_coalescing(stub, fast, 100)
        finally:
            fast.stop()
        if args.only_ceiling:
            stub.shutdown()
            return
        stub.limit, stub.buckets = TWITCH_POINTS_PER_MINUTE, {}
        limited = Proxy(stub, workdir, args.redis_url, RATE_LIMIT_REQUESTS_PER_SECOND=str(args.limit),
                        RATE_LIMIT_MAX_WAIT_S="1", WEB_WORKERS=str(args.workers))
        try:
            bench_overload(stub, limited, args.limit, overload_seconds)
        finally:
            limited.stop()
    stub.shutdown()


if __name__ == "__main__":
    main()
