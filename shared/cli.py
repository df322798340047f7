"""The `waddlebot` command. Modules add their own subcommands through their manifest."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

import click

from shared.settings import SettingsError, get_settings

log = logging.getLogger("waddlebot")


def bootstrap():
    """Settings and logging, or a clear error and exit code 2."""
    from shared.logs import configure_logging

    try:
        settings = get_settings()
    except SettingsError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    configure_logging(settings)
    return settings


class WaddlebotGroup(click.Group):
    """The core commands plus those each module declares in its manifest ("commands")."""

    def _module_commands(self) -> dict[str, click.Command]:
        from shared.registry import discover, load_entry
        from shared.web import load_apps

        declared = [manifest for manifest in discover() if manifest.commands]
        if not declared:
            return {}
        bootstrap()
        load_apps(quiet=True)
        commands = {}
        for manifest in declared:
            try:
                for command in load_entry(manifest.commands):
                    commands[command.name] = command
            except Exception as err:  # a broken module must not take the CLI down
                log.error("commands of %s unavailable: %s", manifest.name, err)
        return commands

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._module_commands()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or self._module_commands().get(name)


@click.group(cls=WaddlebotGroup)
def main():
    """WaddleBot: connect a streaming community to Twitch and YouTube."""


@main.command()
def migrate():
    """Create and update every table and index (idempotent)."""
    from shared.db import migrate as run_migrations

    settings = bootstrap()
    tables = run_migrations(settings)
    click.echo(f"migrated {len(tables)} tables on {settings.database_url.split('://')[0]}")


@main.command()
@click.option("--host", default=None, help="address to listen on (default HOST)")
@click.option("--port", default=None, type=int, help="port to listen on (default PORT)")
def web(host, port):
    """Serve every app over HTTP."""
    from shared.web import serve

    settings = bootstrap()
    serve(host or settings.host, port or settings.port, settings)


@main.command()
@click.option("--only", multiple=True, help="run only this module or service (repeatable)")
def worker(only):
    """Run the background services the modules declare."""
    from shared.registry import discover, import_errors
    from shared.web import load_apps
    from shared.workers import Supervisor, selected_services

    settings = bootstrap()
    load_apps(quiet=True)  # the web process lists the apps
    services = selected_services(discover(), list(only), settings, import_errors())
    supervisor = Supervisor(services, settings)
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervisor.start()
    while not stopping.wait(0.5) and not supervisor.stop_event.is_set():
        pass
    clean = supervisor.stop()
    log.info("worker stopped%s", "" if clean else " (some services did not stop in time)")
    sys.exit(0 if clean else 1)


@main.command()
@click.option("--host", default=None, help="address to listen on (default HOST)")
@click.option("--port", default=None, type=int, help="port to listen on (default PORT)")
def run(host, port):
    """Migrate, then run the web server and the worker together; Ctrl-C stops both."""
    from shared.db import migrate as run_migrations

    settings = bootstrap()
    run_migrations(settings)
    base = [sys.executable, "-m", "shared.cli"]
    web_args = ["web", "--host", host or settings.host, "--port", str(port or settings.port)]
    children = [subprocess.Popen(base + web_args), subprocess.Popen(base + ["worker"])]
    click.echo(f"WaddleBot on http://{host or settings.host}:{port or settings.port} (Ctrl-C stops). Log in with "
               f"ADMIN_PASSWORD or a one-time link: .venv/bin/waddlebot magic-link")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.wait(0.5) and all(child.poll() is None for child in children):
        pass
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    codes = [child.returncode for child in children]
    sys.exit(0 if stopping.is_set() else max(code or 0 for code in codes) or 1)


@main.command()
def modules():
    """List the modules with their status: ready, not configured (what is missing), failed (why)."""
    from shared.registry import discover, module_status
    from shared.web import load_apps

    settings = bootstrap()
    load_apps(quiet=True)
    rows = [module_status(manifest, settings) for manifest in discover()]
    click.echo(f"{'MODULE':<18} {'VERSION':<9} {'STATUS':<15} DETAIL")
    for row in rows:
        click.echo(f"{row['name']:<18} {row['version']:<9} {row['status']:<15} {row['detail']}")


@main.command("magic-link")
def magic_link():
    """Print a one-time admin login URL (expires after MAGIC_LINK_TTL_MINUTES)."""
    from shared.adminauth import create_magic_link
    from shared.db import get_db, transaction

    settings = bootstrap()
    with transaction(get_db()) as db:
        url = create_magic_link(db, settings)
    click.echo(url)


if __name__ == "__main__":
    main()
