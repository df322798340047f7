"""`waddlebot bots …`: the device code grant, the browser link, list, refresh and remove."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from shared import tokens
from tests.apps.twitch_auth.twitch_fakes import ID_URL, store_bot, token_body, validate_body

DEVICE = {"device_code": "device-code-secret", "expires_in": 1800, "interval": 5, "user_code": "ABCDEFGH",
          "verification_uri": "https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH"}


def pending(message: str) -> dict:
    return {"status": 400, "json": {"status": 400, "message": message}}


@pytest.fixture
def cli(app_module):
    return app_module("cli")


def test_add_with_device_code_prints_the_code_polls_and_stores_the_bot(twitch, db, cli, capsys):
    twitch.post(f"{ID_URL}/device", json=DEVICE)
    twitch.post(f"{ID_URL}/token", **pending("authorization_pending"))
    twitch.post(f"{ID_URL}/token", **pending("slow_down"))
    twitch.post(f"{ID_URL}/token", json=token_body("bot-access-0001", "bot-refresh-0001", scopes=tokens.BOT_SCOPES))
    twitch.get(f"{ID_URL}/validate", json=validate_body("999", "waddlebot", tokens.BOT_SCOPES))
    slept = []
    cli.add_with_device_code("main", sleep=slept.append)
    out = capsys.readouterr().out
    assert DEVICE["verification_uri"] in out and "ABCDEFGH" in out
    assert "Bot main is waddlebot (user id 999)" in out
    assert slept == [5, 5, 10]
    assert parse_qs(twitch.calls[0].request.body)["scopes"] == [" ".join(tokens.BOT_SCOPES)]
    assert tokens.get_bot("main").token == "bot-access-0001"


def test_add_reports_an_expired_device_code_and_stores_nothing(twitch, db, cli):
    twitch.post(f"{ID_URL}/device", json=DEVICE)
    twitch.post(f"{ID_URL}/token", **pending("authorization_pending"))
    twitch.post(f"{ID_URL}/token", **pending("expired_token"))
    with pytest.raises(cli.click.ClickException, match="expired.*bots add main"):
        cli.add_with_device_code("main", sleep=lambda seconds: None)
    assert db(db.twitch_token).count() == 0


def test_add_through_the_command_line_refuses_a_bad_name(twitch, db, cli):
    result = CliRunner().invoke(cli.bots, ["add", "bad name"])
    assert result.exit_code == 2 and "bot name" in result.output


def test_add_with_browser_prints_a_signed_login_link(twitch, db, cli, client):
    result = CliRunner().invoke(cli.bots, ["add", "main", "--browser"])
    assert result.exit_code == 0
    link = urlsplit(result.output.strip().splitlines()[-1])
    assert link.path == "/twitch_auth/login" and "bot" in parse_qs(link.query)
    response = client.get(f"{link.path}?{link.query}")
    assert response.status_int == 303 and "chat%3Aedit" in response.headers["Location"]
    assert db(db.twitch_oauth_state).select().first().bot_name == "main"


def test_list_refresh_and_remove(twitch, db, cli):
    store_bot(db)
    runner = CliRunner()
    listed = runner.invoke(cli.bots, ["list"])
    assert listed.exit_code == 0 and "main" in listed.output and "waddlebot" in listed.output
    assert "bot-access-0001" not in listed.output
    twitch.post(f"{ID_URL}/token", json=token_body("bot-access-0002", "bot-refresh-0002", scopes=tokens.BOT_SCOPES))
    refreshed = runner.invoke(cli.bots, ["refresh", "main"])
    assert refreshed.exit_code == 0 and "refreshed the token of bot main" in refreshed.output
    twitch.post(f"{ID_URL}/revoke", body="")
    removed = runner.invoke(cli.bots, ["remove", "main"])
    assert removed.exit_code == 0 and "removed bot main" in removed.output
    assert parse_qs(twitch.calls[-1].request.body)["token"] == ["bot-access-0002"]
    assert db(db.twitch_token).count() == 0
    assert runner.invoke(cli.bots, ["list"]).output.startswith("no bot account")


def test_refresh_and_remove_of_an_unknown_bot_fail_clearly(twitch, db, cli):
    runner = CliRunner()
    refreshed = runner.invoke(cli.bots, ["refresh", "ghost"])
    assert refreshed.exit_code == 1 and "no bot account ghost" in refreshed.output
    removed = runner.invoke(cli.bots, ["remove", "ghost"])
    assert removed.exit_code == 1 and "no bot account ghost" in removed.output


def test_the_bots_group_is_a_waddlebot_command(twitch, db, wsgi_app):
    from shared.cli import main

    result = CliRunner().invoke(main, ["bots", "--help"])
    assert result.exit_code == 0 and all(name in result.output for name in ("add", "list", "refresh", "remove"))
