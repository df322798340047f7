"""`waddlebot bots …`: add (device code grant or browser), list, refresh and remove bot accounts."""

from __future__ import annotations

import time
from collections.abc import Callable

import click

from modules.twitch import oauth
from modules.twitch.oauth import DeviceFlowError, OAuthError
from shared import tokens
from shared.db import get_db, transaction
from shared.registry import ModuleError
from shared.settings import get_settings

from .login_state import bot_login_link


def add_with_device_code(name: str, sleep: Callable[[float], None] = time.sleep) -> None:
    """Device code grant flow: show the code, poll until granted, store the token as bot `name`."""
    settings = get_settings()
    if not (settings.twitch_app_id and settings.twitch_app_secret):
        raise click.ClickException("set TWITCH_APP_ID and TWITCH_APP_SECRET first")
    client_id, timeout = settings.twitch_app_id, settings.helix_timeout_s
    try:
        device = oauth.start_device_flow(settings.twitch_id_url, client_id, tokens.BOT_SCOPES, timeout)
        click.echo(f"Log in to Twitch as the bot account, open {device.verification_uri} and enter the code "
                   f"{device.user_code} (valid {device.expires_in // 60} minutes).")
        click.echo("Waiting for the authorization…")
        grant = oauth.poll_device_flow(settings.twitch_id_url, client_id, tokens.BOT_SCOPES, device, timeout, sleep)
        info = oauth.validate(settings.twitch_id_url, grant.access_token, timeout)
    except DeviceFlowError as err:
        raise click.ClickException(f"{err}: run `waddlebot bots add {name}` again") from None
    except OAuthError as err:
        raise click.ClickException(str(err)) from None
    with transaction(get_db()) as db:
        tokens.store_bot_token(db, name, grant, info)
    click.echo(f"Bot {name} is {info.login} (user id {info.user_id}), scopes: {' '.join(info.scopes)}")


def _bot_name(ctx, param, value: str) -> str:
    try:
        return tokens.check_bot_name(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.group()
def bots():
    """Bot accounts: named Twitch logins with chat scopes, used by chat and EventSub."""


@bots.command()
@click.argument("name", callback=_bot_name)
@click.option("--browser", is_flag=True, help="print a login link for a browser instead of a device code")
def add(name: str, browser: bool):
    """Authorize the bot account NAME (replaces its token if it exists)."""
    if browser:
        click.echo("Open this link in a browser logged in to Twitch as the bot account (valid 10 minutes):")
        click.echo(bot_login_link(name))
        return
    add_with_device_code(name)


@bots.command("list")
def list_():
    """List the bot accounts (never their tokens)."""
    rows = tokens.list_bots()
    if not rows:
        click.echo("no bot account: add one with `waddlebot bots add NAME`")
        return
    click.echo(f"{'NAME':<20} {'LOGIN':<26} {'USER ID':<12} {'STATE':<16} SCOPES")
    for bot in rows:
        state = "needs re-login" if bot["needs_relogin"] else "static" if bot["static"] else (
            "valid" if bot["valid"] else "invalid")
        click.echo(f"{bot['name']:<20} {bot['login'] or '':<26} {bot['user_id'] or '':<12} {state:<16} "
                   f"{' '.join(bot['scopes'])}")


@bots.command()
@click.argument("name", callback=_bot_name)
def refresh(name: str):
    """Refresh the token of bot NAME now."""
    try:
        bot = tokens.refresh_bot(name)
    except ModuleError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"refreshed the token of bot {bot.name} ({bot.login})")


@bots.command()
@click.argument("name", callback=_bot_name)
def remove(name: str):
    """Revoke the token of bot NAME at Twitch and forget the account."""
    try:
        with transaction(get_db()) as db:
            tokens.remove_bot(db, name)
    except (ModuleError, tokens.UnknownAccount) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"removed bot {name}")


commands = [bots]
