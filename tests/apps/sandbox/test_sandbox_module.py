"""The sandbox module outside the browser: its environment keeps everything on 127.0.0.1 and on
its own database, a bad scenario is refused with what to fix, and its page and banner."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from apps.sandbox.cli import SANDBOX_VAR_DIR, sandbox_environment
from modules.sandbox import scenario as scenarios
from modules.sandbox.stack import Sandbox
from modules.waddlebot_api import ReputationClient
from shared.cli import main
from shared.settings import load_settings, setting_names

#: URL settings that are not an outside service (our own addresses and stores)
OURS = {"DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "TWITCH_REDIRECT_URI", "TWITCH_WEBHOOK_CALLBACK_URL"}


@pytest.fixture
def box():
    sandbox = Sandbox(scenarios.load(), public_url="http://127.0.0.1:8100")
    yield sandbox
    sandbox.stop()


def test_every_outside_service_is_a_fake_on_127_0_0_1_and_the_database_is_separate(box, monkeypatch):
    env = sandbox_environment(box, 8100)
    outside = [name for name in setting_names() if name.endswith(("_URL", "_URI")) and name not in OURS]
    assert {"TWITCH_ID_URL", "TWITCH_HELIX_URL", "TWITCH_EVENTSUB_WS_URL", "TWITCH_IRC_URL", "YOUTUBE_API_URL",
            "YOUTUBE_OEMBED_URL", "SPOTIFY_OEMBED_URL", "REPUTATION_API_URL", "CONTEXT_API_URL",
            "GATEWAY_ACTIVATE_URL"} <= set(outside)
    for name in outside:
        assert urlsplit(env[name]).hostname == "127.0.0.1", name
    for name, value in env.items():
        if name in setting_names():
            monkeypatch.setenv(name, value)
    settings = load_settings()  # the sandbox's environment is a valid configuration
    assert settings.waddlebot_sandbox and settings.redis_url == ""
    assert settings.var_dir.parts[-2:] == tuple(SANDBOX_VAR_DIR.split("/"))
    assert settings.database_url == "sqlite://waddlebot.sqlite"
    assert settings.chat_bot == settings.eventsub_bot == "main" and not settings.twitch_oauth_token


def test_a_bad_scenario_file_is_refused_before_anything_starts(tmp_path, db):
    path = tmp_path / "mine.json"
    path.write_text('{"duration": 60, "timeline": [{"at": 5, "chat": "hi"}]}')
    result = CliRunner().invoke(main, ["sandbox", "--scenario", str(path)])
    assert result.exit_code == 2 and "mine.json: timeline[0].user" in result.output


def test_a_port_in_use_is_refused_before_anything_starts(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "--port", str(port)])
    assert result.exit_code == 2 and f"port {port} is in use" in result.output


def test_outside_the_sandbox_the_page_says_how_to_start_it_and_no_banner_shows(admin_client):
    page = admin_client.get("/sandbox/admin")
    assert "start it with `waddlebot sandbox`" in page.text and "sandbox-banner" not in page.text
    assert admin_client.get("/sandbox/status", expect_errors=True).status_int == 503


def test_in_the_sandbox_every_page_has_the_banner_and_the_page_shows_what_the_apis_received(admin_client, box,
                                                                                          configure):
    configure(WADDLEBOT_SANDBOX="true", SANDBOX_URL=box.http.url)
    ReputationClient(f"{box.http.url}/reputation").report(
        {"type": "channel.follow", "user_login": "penguin_pat", "points": 10}, "activity:1")
    page = admin_client.get("/sandbox/admin")
    assert "sandbox-banner" in page.text and "penguin_pat" in page.text
    assert "Waiting for WaddleBot" in page.text
    for path in ("/", "/twitch_chat/recommendations", "/livepulse/admin", "/twitch_webhooks/admin/channels"):
        assert 'id="sandbox-banner"' in admin_client.get(path).text, path
    assert admin_client.get("/sandbox/status").json["counts"]["reputation"] == 1

