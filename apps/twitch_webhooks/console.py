"""`waddlebot console`: the event hub's console. Without a subcommand it is interactive; each of its
lines is one of the subcommands scripts use directly:

    waddlebot console service-accounts create|list|regenerate …
    waddlebot console interests list [--client-id ID]
    waddlebot console subscriptions list [--twitch]
    waddlebot console bots add|list|refresh …      (twitch_auth's `waddlebot bots`)
"""

from __future__ import annotations

import cmd
import shlex

import click

from apps.twitch_webhooks.hub import accounts as hub_accounts
from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub import subscriptions as hub_subscriptions
from shared.db import get_db, transaction
from shared.helix.client import HelixError, HelixUnavailable
from shared.registry import ModuleError
from shared.settings import SettingsError, get_settings
from shared.tokens import UnknownAccount


def _database():
    """The database with the hub's tables, or an error saying what to do."""
    try:
        get_settings()
    except SettingsError as err:
        raise click.ClickException(str(err)) from None
    db = get_db()
    try:
        db.executesql("SELECT 1 FROM hub_service_account WHERE 1 = 0")
    except Exception:
        db.rollback()
        raise click.ClickException("the database has no event hub tables: run `waddlebot migrate` first "
                                   "(DATABASE_URL says which database)") from None
    return db


def _table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(value)) for value in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(value).ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


class HubConsole(cmd.Cmd):
    """Reads lines and runs each as `waddlebot console LINE`."""

    intro = ("WaddleBot console. Commands: bots, service-accounts, interests, subscriptions "
             "(add --help to any of them); quit to leave.")
    prompt = "waddlebot> "

    def __init__(self, context: click.Context, **streams):
        super().__init__(**streams)
        self.context = context

    def default(self, line: str) -> None:
        try:
            args = shlex.split(line)
        except ValueError as err:
            click.echo(f"error: {err}", err=True)
            return
        if args and args[0] == "console":
            click.echo("you are in the console already", err=True)
            return
        try:
            with console.make_context("console", args, parent=self.context.parent) as context:
                console.invoke(context)
        except click.exceptions.Exit:
            pass
        except click.ClickException as err:
            err.show()
        except click.exceptions.Abort:
            click.echo("aborted", err=True)

    def emptyline(self) -> bool:
        return False

    def do_help(self, arg: str) -> None:
        self.default(f"{arg} --help" if arg else "--help")

    def do_quit(self, arg: str) -> bool:
        """Leave the console."""
        return True

    do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:
        click.echo()
        return True


@click.group(invoke_without_command=True)
@click.pass_context
def console(context: click.Context):
    """The event hub's console: interactive without a subcommand."""
    if context.invoked_subcommand is None:
        HubConsole(context).cmdloop()


@console.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def bots(context: click.Context):
    """Bot accounts: add, list, refresh (twitch_auth's `waddlebot bots`)."""
    root = context.find_root()
    command = root.command.get_command(root, "bots") if isinstance(root.command, click.Group) else None
    if command is None:
        raise click.ClickException("bot accounts are managed by the twitch_auth module, which is not loaded")
    with command.make_context("bots", list(context.args), parent=root) as bots_context:
        command.invoke(bots_context)


@console.group("service-accounts")
def service_accounts():
    """Service accounts of local services (a secret is shown once)."""


@service_accounts.command("create")
@click.argument("name")
def create_account(name: str):
    """Create the service account NAME and print its client id and secret."""
    try:
        with transaction(_database()) as db:
            account, secret = hub_accounts.create_account(db, name)
    except hub_accounts.AccountError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"client_id:     {account['client_id']}\nclient_secret: {secret}\n"
               "Store the secret now: it is not shown again.")


@service_accounts.command("list")
def list_accounts():
    """List the service accounts (never their secrets)."""
    rows = hub_accounts.list_accounts(_database())
    if not rows:
        click.echo("no service account: create one with `service-accounts create NAME`")
        return
    _table([(row["name"], row["client_id"], row["created_at"], row["interests"]) for row in rows],
           ("NAME", "CLIENT ID", "CREATED", "INTERESTS"))


@service_accounts.command("regenerate")
@click.argument("client_id")
def regenerate(client_id: str):
    """Give CLIENT_ID a new secret; the old one stops working, its connections are closed."""
    with transaction(_database()) as db:
        result = hub_accounts.regenerate(db, client_id)
    if result is None:
        raise click.ClickException(f"no service account {client_id!r}: `service-accounts list` shows them")
    click.echo(f"client_id:     {client_id}\nclient_secret: {result[1]}\nStore the secret now: it is not shown again.")


@console.group()
def interests():
    """What the services asked to receive."""


@interests.command("list")
@click.option("--client-id", help="only the interests of this service account")
def list_interests(client_id: str | None):
    db = _database()
    account_id = None
    if client_id:
        row = db(db.hub_service_account.client_id == client_id).select(limitby=(0, 1)).first()
        if row is None:
            raise click.ClickException(f"no service account {client_id!r}")
        account_id = row.id
    rows = hub_interests.list_interests(db, account_id)
    if not rows:
        click.echo("no interest: services add them with POST /twitch_webhooks/v1/interests")
        return
    _table([(row["interest_id"], row["bot_account_id"], row["event_type"], row["broadcaster_user_id"],
             row["transport"], row["subscription"]["status"]) for row in rows],
           ("INTEREST", "BOT", "TYPE", "BROADCASTER", "TRANSPORT", "SUBSCRIPTION"))


@console.group()
def subscriptions():
    """The Twitch subscriptions behind the interests."""


@subscriptions.command("list")
@click.option("--twitch", "at_twitch", is_flag=True, help="ask Twitch (needs TWITCH_APP_ID and the bot tokens)")
def list_subscriptions(at_twitch: bool):
    db = _database()
    if at_twitch:
        _list_at_twitch(db)
        return
    rows = db(db.hub_subscription).select(orderby=db.hub_subscription.event_type)
    if not rows:
        click.echo("no subscription: the EventSub WebSocket service creates them for the interests")
        return
    _table([(row.bot_name, row.event_type, row.version, row.status, row.twitch_id or "", row.last_error or "")
            for row in rows], ("BOT", "TYPE", "VERSION", "STATUS", "TWITCH ID", "ERROR"))


def _list_at_twitch(db) -> None:
    names = sorted({row.bot_name for row in db(db.hub_interest).select(db.hub_interest.bot_name, distinct=True)})
    if not names:
        default = hub_interests.default_bot()
        names = [default] if default else []
    if not names:
        raise click.ClickException("no bot account: run `waddlebot bots add NAME` (EVENTSUB_BOT picks the default)")
    listed = []
    for name in names:
        try:
            listed += [(name, sub) for sub in hub_subscriptions.list_twitch(name)]
        except (ModuleError, UnknownAccount, HelixUnavailable, HelixError) as err:
            raise click.ClickException(f"bot {name}: {err}") from None
    _table([(name, sub["type"], sub["version"], sub["status"], (sub.get("transport") or {}).get("method", ""),
             sub["id"], sub.get("cost", 0)) for name, sub in listed],
           ("BOT", "TYPE", "VERSION", "STATUS", "TRANSPORT", "ID", "COST"))


commands = [console]
