"""`waddlebot console`: the interactive console and the same actions as subcommands."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
import responses
from click.testing import CliRunner

from apps.twitch_auth.cli import bots
from apps.twitch_webhooks.console import console
from apps.twitch_webhooks.hub import accounts as hub_accounts
from shared.settings import PROJECT_ROOT, reset_settings
from tests.apps.twitch_webhooks.hub.fakes import (
    hub_settings,
    make_account,
    make_bot,
    make_interest,
    subscribe_all,
    twitch_subscriptions,
)
from tests.conftest import TEST_ENV

ROOT = click.Group("waddlebot", commands={"console": console, "bots": bots})


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(ROOT, list(args), input=stdin)


@pytest.fixture
def hub(configure, db):
    hub_settings(configure)
    make_bot(db)


def test_service_accounts_create_list_and_regenerate(hub, db):
    created = run("console", "service-accounts", "create", "alerts")
    assert created.exit_code == 0, created.output
    client_id = created.output.split("client_id:")[1].split()[0]
    secret = created.output.split("client_secret:")[1].split()[0]
    assert hub_accounts.authenticate(client_id, secret, db) is not None
    listed = run("console", "service-accounts", "list")
    assert "alerts" in listed.output and client_id in listed.output and secret not in listed.output
    renewed = run("console", "service-accounts", "regenerate", client_id)
    assert renewed.exit_code == 0
    db.rollback()
    assert hub_accounts.authenticate(client_id, secret, db) is None
    assert run("console", "service-accounts", "regenerate", "svc_nope").exit_code == 1
    duplicate = run("console", "service-accounts", "create", "alerts")
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output


def test_interests_and_subscriptions_are_listed(hub, db):
    account, _ = make_account(db, "alerts")
    interest, _ = make_interest(db, account, "stream.online")
    subscription = subscribe_all(db)["stream.online"]
    listed = run("console", "interests", "list", "--client-id", account.client_id)
    assert interest["interest_id"] in listed.output and "stream.online" in listed.output
    assert "enabled" in listed.output
    assert run("console", "interests", "list", "--client-id", "svc_nope").exit_code == 1
    subscriptions = run("console", "subscriptions", "list")
    assert subscription["id"] in subscriptions.output and "main" in subscriptions.output


def test_subscriptions_at_twitch(hub, db):
    account, _ = make_account(db, "alerts")
    make_interest(db, account, "stream.online")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        twitch = twitch_subscriptions(mock)
        twitch.add_subscription({"id": "at-twitch-1", "type": "stream.online", "version": "1", "status": "enabled",
                                 "cost": 0, "condition": {}, "transport": {"method": "websocket", "session_id": "s"}})
        listed = run("console", "subscriptions", "list", "--twitch")
    assert listed.exit_code == 0, listed.output
    assert "at-twitch-1" in listed.output


def test_subscriptions_at_twitch_without_a_bot_names_what_to_do(configure, db):
    hub_settings(configure)
    listed = run("console", "subscriptions", "list", "--twitch")
    assert listed.exit_code == 1 and "waddlebot bots add" in listed.output


def test_bots_are_twitch_auths_commands(hub):
    listed = run("console", "bots", "list")
    assert listed.exit_code == 0 and "mainbot" in listed.output


def test_the_interactive_console_runs_the_same_actions(hub, db):
    session = run("console", stdin="service-accounts create alerts\nservice-accounts list\nbots list\n"
                                   "interests list\nnonsense\nhelp service-accounts\nquit\n")
    assert session.exit_code == 0, session.output
    assert "WaddleBot console" in session.output
    assert "client_secret:" in session.output and "mainbot" in session.output
    assert "No such command 'nonsense'" in session.output
    assert "regenerate" in session.output  # the help of service-accounts
    assert db(db.hub_service_account).count() == 1


def test_missing_configuration_is_an_explicit_error(monkeypatch):
    monkeypatch.setenv("WADDLEBOT_ENV", "production")
    monkeypatch.setenv("AUTH_SECRET", "")
    reset_settings()
    result = run("console", "service-accounts", "list")
    assert result.exit_code == 1 and "AUTH_SECRET" in result.output


def test_an_unmigrated_database_is_an_explicit_error(tmp_path):
    env = {**os.environ, **TEST_ENV, "WADDLEBOT_VAR_DIR": str(tmp_path), "DATABASE_URL": "sqlite://empty.sqlite"}
    code = "from apps.twitch_webhooks.console import console; console(['interests', 'list'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and "waddlebot migrate" in result.stderr
