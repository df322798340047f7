"""Logs: LOG_LEVEL in the real web and worker processes, the access log, LOG_FORMAT=json."""

import io
import json
import logging
import os
import signal

from shared.accesslog import loggable_path
from shared.logs import configure_logging
from tests.conftest import TEST_ENV
from tests.processes import free_port, waddlebot, wait_healthy
from tests.waiting import wait_until

MAGIC_TOKEN = "Zk3v9QpL0aXw7TbN2cYe5RuH"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_web_process_logs_info_lines_and_one_json_access_line_per_request_without_secrets(wsgi_app, tmp_path):
    port, stderr = free_port(), tmp_path / "web.log"
    with waddlebot("web", "--port", str(port), env={"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}, stderr=stderr):
        wait_healthy(f"http://127.0.0.1:{port}/helix_proxy/healthz")
        import requests

        requests.get(f"http://127.0.0.1:{port}/helix_proxy/users?id=1&client_secret=hunter2-secret", timeout=5,
                     headers={"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]})
        requests.get(f"http://127.0.0.1:{port}/auth/magic/{MAGIC_TOKEN}?code=oauth-code-77", timeout=5)
        wait_until(lambda: "/auth/magic/" in stderr.read_text(), timeout=10)
    output = stderr.read_text()
    records = _json_lines(output)
    access = [record for record in records if record["logger"] == "waddlebot.access"]
    users = next(record for record in access if record["path"] == "/helix_proxy/users")
    assert users["method"] == "GET" and users["status"] == 503 and users["client"] == "127.0.0.1"
    assert users["level"] == "INFO" and isinstance(users["duration_ms"], float)
    assert any(record["path"] == "/auth/magic/***" for record in access)
    # the proxy's own INFO line, lost while py4web reset the root logger to WARNING
    assert any(record["logger"] == "apps.helix_proxy" and "status=503" in record["message"] for record in records)
    for secret in ("hunter2-secret", MAGIC_TOKEN, "oauth-code-77", TEST_ENV["ADMIN_API_KEY"]):
        assert secret not in output


def test_log_level_warning_silences_the_access_log(wsgi_app, tmp_path):
    port, stderr = free_port(), tmp_path / "web.log"
    with waddlebot("web", "--port", str(port), env={"LOG_LEVEL": "WARNING"}, stderr=stderr):
        wait_healthy(f"http://127.0.0.1:{port}/helix_proxy/healthz")
    assert "waddlebot.access" not in stderr.read_text()


def test_the_worker_process_logs_info_lines(wsgi_app, tmp_path):
    stderr = tmp_path / "worker.log"
    with waddlebot("worker", "--only", "_default", env={"LOG_LEVEL": "INFO"}, stderr=stderr) as process:
        wait_until(lambda: "INFO" in stderr.read_text() and "outbox" in stderr.read_text(), timeout=60)
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert "INFO waddlebot: worker stopped" in stderr.read_text()


def test_the_access_log_names_method_path_status_and_client_in_process(client, caplog):
    caplog.set_level(logging.INFO, logger="waddlebot.access")
    client.get("/helix_proxy/healthz?client_secret=s3cr3t-value", extra_environ={"REMOTE_ADDR": "10.1.2.3"})
    line = next(record.getMessage() for record in caplog.records if record.name == "waddlebot.access")
    assert line.startswith("GET /helix_proxy/healthz 200 ") and line.endswith("ms client=10.1.2.3")
    assert "s3cr3t-value" not in caplog.text


def test_token_shaped_path_segments_are_masked_and_ids_kept():
    assert loggable_path(f"/auth/magic/{MAGIC_TOKEN}") == "/auth/magic/***"
    assert loggable_path("/twitch_auth/refresh/123456789012345678901") == "/twitch_auth/refresh/123456789012345678901"
    assert loggable_path("/twitch_webhooks/admin/subscriptions") == "/twitch_webhooks/admin/subscriptions"
    assert loggable_path("/v1/admin/service-accounts/svc_x/regenerate") == "/v1/admin/service-accounts/svc_x/regenerate"
    assert loggable_path("/twitch_chat/submit/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq") == "/twitch_chat/submit/***"
    assert loggable_path("/twitch_chat/submit/ABCDEFGHIJ-klmnopqrst_UVWXyz") == "/twitch_chat/submit/***"


def test_json_logs_carry_the_redacted_traceback_once(configure):
    settings = configure(LOG_FORMAT="json")
    stream = io.StringIO()
    configure_logging(settings, stream)
    try:
        raise ValueError("access_token=tok-999")
    except ValueError:
        logging.getLogger("waddlebot.test").exception("refresh failed for %s", "someone")
    logging.getLogger().removeHandler(logging.getLogger().handlers[-1])
    record = json.loads(stream.getvalue())
    assert record["message"] == "refresh failed for someone" and record["level"] == "ERROR"
    assert record["logger"] == "waddlebot.test" and "ValueError" in record["exc_info"]
    assert "tok-999" not in stream.getvalue()
