import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from shared.db import missing_tables
from shared.settings import PROJECT_ROOT
from tests.conftest import TEST_ENV
from tests.processes import free_port, waddlebot, wait_healthy
from tests.waiting import wait_until


def _waddlebot(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def test_production_without_secrets_fails_naming_every_variable():
    env = {"WADDLEBOT_ENV": "production", "WADDLEBOT_SECRET_KEY": "", "ADMIN_PASSWORD": "", "AUTH_SECRET": ""}
    result = _waddlebot("migrate", env=env)
    assert result.returncode == 2
    assert "WADDLEBOT_SECRET_KEY, ADMIN_PASSWORD, AUTH_SECRET" in result.stderr


def test_a_malformed_port_stops_start_up_with_its_name():
    result = _waddlebot("web", env={"PORT": "http"})
    assert result.returncode == 2 and "PORT: Input should be a valid integer" in result.stderr


def test_modules_lists_the_five_apps_with_their_status(wsgi_app):
    result = _waddlebot("modules")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert {"twitch_auth", "twitch_webhooks", "twitch_chat", "helix_proxy", "livepulse"} <= set(lines)
    assert "not_configured" in lines["livepulse"] and "YT_API_KEY" in lines["livepulse"]


def test_modules_on_a_fresh_database_says_to_migrate_then_the_module_is_ready(tmp_path):
    fresh = {"WADDLEBOT_VAR_DIR": str(tmp_path), "DATABASE_URL": "sqlite://fresh.sqlite"}
    before = _waddlebot("modules", env=fresh)
    assert before.returncode == 0, before.stderr
    chat = next(line for line in before.stdout.splitlines() if line.startswith("twitch_chat"))
    assert "not_migrated" in chat and "not migrated yet: run waddlebot migrate" in chat
    assert "no such table" not in before.stdout
    assert _waddlebot("migrate", env=fresh).returncode == 0
    after = _waddlebot("modules", env=fresh)
    chat = next(line for line in after.stdout.splitlines() if line.startswith("twitch_chat"))
    assert "not_migrated" not in chat and "failed" not in chat


def test_a_migrated_database_misses_no_table(db):
    assert missing_tables(db) == []


def test_magic_link_prints_a_one_time_url(client, db):
    result = _waddlebot("magic-link")
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{TEST_ENV['PUBLIC_URL']}/auth/magic/")
    client.get(url.removeprefix(TEST_ENV["PUBLIC_URL"]), status=303)
    client.get(url.removeprefix(TEST_ENV["PUBLIC_URL"]), status=410)


def test_run_serves_login_health_and_metrics_with_the_worker_and_stops_on_ctrl_c(wsgi_app):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "run", "--port", str(port)], cwd=PROJECT_ROOT,
                               env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health")
        health = requests.get(f"http://127.0.0.1:{port}/health", headers={"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]},
                              timeout=5).json()
        assert health["components"]["worker"]["services"]["_default.outbox"] == "running"
        assert "Admin login" in requests.get(f"http://127.0.0.1:{port}/login", timeout=5).text
        assert "waddlebot_http_requests_total" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert requests.get(f"http://127.0.0.1:{port}/_dashboard", timeout=5).status_code == 404  # not enabled
        os.killpg(process.pid, signal.SIGINT)
        started = time.monotonic()
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 12
        output = process.stdout.read()
        assert ".venv/bin/waddlebot magic-link" in output  # the path that works after `make run`
        assert output.count("apps loaded: _default, helix_proxy, livepulse") == 1 and "[X] loaded" not in output
        assert "seems quite high" not in output  # Granian's note on our own WEB_THREADS default
        assert "shared.workers: worker" in output  # the worker's INFO lines survive py4web's loading
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_an_enabled_dashboard_is_behind_the_admin_login_and_its_attempt_limit(wsgi_app):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "web", "--port", str(port)], cwd=PROJECT_ROOT,
                               env={**os.environ, "DASHBOARD_ENABLED": "true", "LOGIN_MAX_ATTEMPTS": "3"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/helix_proxy/healthz")
        anonymous = requests.get(f"{base}/_dashboard", timeout=5, allow_redirects=False)
        assert (anonymous.status_code, anonymous.headers["Location"]) == (303, "/login?next=%2F_dashboard")
        guess = requests.post(f"{base}/_dashboard/api/login", json={"password": TEST_ENV["ADMIN_PASSWORD"]}, timeout=5)
        assert guess.status_code == 401  # the dashboard's password form is not reachable without the admin login
        guesses = [requests.post(f"{base}/login", data={"password": "wrong", "next": "/_dashboard"}, timeout=5,
                                 allow_redirects=False).status_code for _ in range(4)]
        assert guesses[-1] == 429
        admin = requests.get(f"{base}/_dashboard", headers={"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]}, timeout=5)
        assert admin.status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="several web processes need Redis")
def test_web_with_two_processes_counts_every_request_in_metrics(wsgi_app):
    """WEB_WORKERS=2: two processes answer on one port; /metrics adds up both, whichever answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "web", "--port", str(port)], cwd=PROJECT_ROOT,
                               env={**os.environ, "WEB_WORKERS": "2"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/helix_proxy/healthz")
        for _ in range(49):  # a new connection each: the kernel spreads them over both processes
            assert requests.get(f"http://127.0.0.1:{port}/helix_proxy/healthz", timeout=5).text == "ok"
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        counted = re.search(r'^waddlebot_http_requests_total\{[^}]*route="/helix_proxy/healthz"[^}]*\} (\S+)$',
                            metrics, re.M)
        assert counted is not None and float(counted.group(1)) == 50
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_run_with_reload_restarts_the_system_when_code_changes(wsgi_app, tmp_path):
    port, stderr = free_port(), tmp_path / "dev.log"
    probe = PROJECT_ROOT / "modules" / f"_reload_probe_{os.getpid()}.py"
    with waddlebot("run", "--reload", "--port", str(port), stderr=stderr) as process:
        wait_healthy(f"http://127.0.0.1:{port}/health")
        assert stderr.read_text().count("web server on") == 1
        try:
            probe.write_text('"""A file that appears: the dev server restarts."""\n')
            wait_until(lambda: stderr.read_text().count("web server on") == 2, timeout=60)
        finally:
            probe.unlink()
        wait_healthy(f"http://127.0.0.1:{port}/health")
        assert "file(s) changed: restarting" in stderr.read_text()
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
