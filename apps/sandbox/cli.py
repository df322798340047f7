"""`waddlebot sandbox`: the whole system on its own database (var/sandbox/) against local fakes of
every outside service, playing a scenario; Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

from apps.sandbox.database import BOT_NAME, prepare
from modules.sandbox.scenario import DEFAULT, ScenarioError, load
from modules.sandbox.stack import Sandbox

SANDBOX_VAR_DIR = "var/sandbox"


def sandbox_environment(sandbox: Sandbox, port: int) -> dict[str, str]:
    """The process environment of the sandboxed WaddleBot: its own database and var dir, the fakes'
    URLs and credentials, no Redis (nothing shared with a real installation)."""
    return {**os.environ, **sandbox.settings(), "WADDLEBOT_ENV": "development", "WADDLEBOT_VAR_DIR": SANDBOX_VAR_DIR,
            "DATABASE_URL": "sqlite://waddlebot.sqlite", "REDIS_URL": "", "HOST": "127.0.0.1", "PORT": str(port),
            "WADDLEBOT_WS_PORT": str(port + 1), "HUB_ALLOW_PRIVATE_WEBHOOKS": "true", "CHAT_BOT": BOT_NAME,
            "EVENTSUB_BOT": BOT_NAME}


@click.command("sandbox")
@click.option("--speed", default=1.0, type=click.FloatRange(min=0.01, max=1000), show_default=True,
              help="play the scenario this many times faster")
@click.option("--scenario", "scenario_file", default=str(DEFAULT), type=click.Path(dir_okay=False),
              help="a scenario JSON file (default: a 30-minute stream)")
@click.option("--port", default=8100, type=click.IntRange(1, 65534), show_default=True,
              help="port of the sandboxed WaddleBot (the hub WebSocket takes the next one)")
def sandbox(speed: float, scenario_file: str, port: int) -> None:
    """Run the whole system against local fakes of Twitch, YouTube and the WaddleBot APIs."""
    try:
        scenario = load(Path(scenario_file))
    except ScenarioError as err:
        raise click.BadParameter(str(err), param_hint="--scenario") from None
    busy = [number for number in (port, port + 1) if not _port_free(number)]
    if busy:
        raise click.BadParameter(f"port {busy[0]} is in use on 127.0.0.1 (another WaddleBot?); choose another "
                                 f"--port (the sandbox takes PORT and PORT+1)", param_hint="--port")
    fakes = Sandbox(scenario, speed=speed, public_url=f"http://127.0.0.1:{port}")
    env = sandbox_environment(fakes, port)
    try:
        login = prepare(fakes, env)
        children = [subprocess.Popen([sys.executable, "-m", "shared.cli", name, *extra], env=env)
                    for name, extra in (("web", ["--port", str(port)]), ("worker", []))]
        fakes.start()
        click.echo(f"WaddleBot sandbox on http://127.0.0.1:{port} (database in {SANDBOX_VAR_DIR}/, fakes at "
                   f"{fakes.http.url}); scenario \"{scenario.name}\" ×{speed:g}, starting when WaddleBot "
                   f"listens.\nLog in: {login}\nThen open the Sandbox page. Ctrl-C stops.")
        if not _wait(children):
            codes = ", ".join(str(child.returncode) for child in children)
            raise click.ClickException(f"the sandbox's web server or worker stopped (exit codes {codes}); is port "
                                       f"{port} or {port + 1} in use? Try --port")
    finally:
        fakes.stop()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(children: list[subprocess.Popen]) -> bool:
    """Until Ctrl-C (True) or a child's exit (False); then stop the children."""
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
    return stopping.is_set()


commands = [sandbox]
