"""`waddlebot helix-proxy`: the proxy alone on APP_PORT, its seed routes bare, the same authentication."""

import requests

from tests.conftest import TEST_ENV
from tests.processes import free_port, waddlebot, wait_healthy


def test_helix_proxy_serves_the_bare_seed_routes_on_app_port_and_says_its_rate(wsgi_app, tmp_path):
    port, stderr = free_port(), tmp_path / "proxy.log"
    env = {"APP_PORT": str(port), "LOG_LEVEL": "INFO", "RATE_LIMIT_REQUESTS_PER_SECOND": "7"}
    with waddlebot("helix-proxy", env=env, stderr=stderr):
        base = f"http://127.0.0.1:{port}"
        assert wait_healthy(f"{base}/healthz").text == "ok"
        bare, prefixed = requests.get(f"{base}/chatters", timeout=5), requests.get(f"{base}/helix_proxy/chatters",
                                                                                    timeout=5)
        assert (bare.status_code, bare.json()) == (prefixed.status_code, prefixed.json())
        assert bare.status_code == 401 and "Bearer" in bare.json()["message"]
        assert requests.get(f"{base}/users?id=1", timeout=5).status_code == 401  # the app token needs a client
        admin = {"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]}
        assert requests.get(f"{base}/users?id=1", headers=admin, timeout=5).status_code == 503  # not configured
        moderated = requests.get(f"{base}/moderated-channels", timeout=5)
        assert moderated.status_code == requests.get(f"{base}/helix_proxy/moderated-channels", timeout=5).status_code
        assert moderated.status_code == 400 and "user_id" in moderated.text
        assert requests.get(f"{base}/login", timeout=5).status_code == 404  # the other modules are not served
    assert "Helix proxy: rate 7 requests/s per bucket, burst 14, waits up to 10 s for quota" in stderr.read_text()


def test_the_port_option_wins_over_app_port(wsgi_app):
    port = free_port()
    with waddlebot("helix-proxy", "--port", str(port), env={"APP_PORT": str(free_port())}):
        assert wait_healthy(f"http://127.0.0.1:{port}/healthz").text == "ok"


def test_the_bare_routes_exist_only_when_the_proxy_runs_alone(client):
    client.get("/helix_proxy/healthz", status=200)
    client.get("/healthz", status=404)
