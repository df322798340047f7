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


class ChildProcesses:
    """The processes of `waddlebot run`, kept running: one that exits (a crash, a worker that lost
    a lock) is started again after a backoff that doubles while it keeps dying young and starts
    over once it has run STABLE_SECONDS. `spawn(command)` and `clock` are injectable for tests."""

    FIRST_DELAY, MAX_DELAY, STABLE_SECONDS, STOP_SECONDS = 1.0, 30.0, 60.0, 10.0

    def __init__(self, commands: dict[str, list[str]], spawn=subprocess.Popen, clock=time.monotonic):
        self.commands, self._spawn, self._clock = commands, spawn, clock
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_at: dict[str, float] = {}
        self.restart_at: dict[str, float] = {}
        self.delay = dict.fromkeys(commands, self.FIRST_DELAY)
        self.restarts = dict.fromkeys(commands, 0)

    def start(self) -> None:
        for name in self.commands:
            self._start(name)

    def _start(self, name: str) -> None:
        self.processes[name] = self._spawn(self.commands[name])
        self.started_at[name] = self._clock()

    def check(self) -> None:
        """Schedule the restart of a child that exited; start those whose delay has passed."""
        now = self._clock()
        for name, process in self.processes.items():
            if name in self.restart_at:
                if now >= self.restart_at[name]:
                    del self.restart_at[name]
                    self.restarts[name] += 1
                    self._start(name)
                continue
            code = process.poll()
            if code is None:
                continue
            if now - self.started_at[name] >= self.STABLE_SECONDS:
                self.delay[name] = self.FIRST_DELAY
            delay = self.delay[name]
            self.delay[name] = min(self.MAX_DELAY, delay * 2)
            self.restart_at[name] = now + delay
            log.error("the %s process exited (code %s); starting it again in %.0f s", name, code, delay)

    def stop(self) -> None:
        """SIGTERM every running child; SIGKILL those still running after STOP_SECONDS."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.STOP_SECONDS
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


@main.command()
@click.option("--host", default=None, help="address to listen on (default HOST)")
@click.option("--port", default=None, type=int, help="port to listen on (default PORT)")
@click.option("--reload", is_flag=True, help="development: restart both when a file under apps/, shared/ or "
                                             "modules/ changes")
def run(host, port, reload):
    """Migrate, then run the web server and the worker together (restarting either if it exits);
    Ctrl-C stops both."""
    from shared.db import migrate as run_migrations

    settings = bootstrap()
    if reload:
        _run_reloading(host or settings.host, port or settings.port)
        return
    run_migrations(settings)
    base = [sys.executable, "-m", "shared.cli"]
    web_args = ["web", "--host", host or settings.host, "--port", str(port or settings.port)]
    children = ChildProcesses({"web": base + web_args, "worker": base + ["worker"]})
    children.start()
    click.echo(f"WaddleBot on http://{host or settings.host}:{port or settings.port} (Ctrl-C stops). Log in with "
               f"ADMIN_PASSWORD or a one-time link: .venv/bin/waddlebot magic-link")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.wait(0.5):
        children.check()
    children.stop()


def _run_reloading(host: str, port: int) -> None:
    """`waddlebot run` in a child process, restarted (Ctrl-C, then start) on every code change."""
    try:
        from watchfiles import DefaultFilter, run_process
    except ImportError:
        raise click.ClickException("--reload needs watchfiles: pip install -r requirements-dev.txt") from None
    from shared.settings import PROJECT_ROOT

    # py4web's _dashboard is unpacked under apps/ at start-up: watching it would restart at once
    changes = DefaultFilter(ignore_dirs=(*DefaultFilter.ignore_dirs, "_dashboard"))
    command = f"{sys.executable} -m shared.cli run --host {host} --port {port}"
    click.echo("reloading on changes under apps/, shared/, modules/ (Ctrl-C stops)", err=True)
    run_process(*(PROJECT_ROOT / folder for folder in ("apps", "shared", "modules")), target=command,
                target_type="command", watch_filter=changes, sigint_timeout=15,
                callback=lambda changed: log.info("%d file(s) changed: restarting", len(changed)))


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
