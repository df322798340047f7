"""Real `waddlebot` processes in tests: a free port, waiting until one answers, stopping it for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from shared.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 60) -> requests.Response:
    """Poll `url` until it answers 200 (a server starting up refuses connections meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} never became healthy")


@contextlib.contextmanager
def waddlebot(*args: str, env: dict[str, str] | None = None, stderr: Path | None = None,
              stdout: Path | None = None) -> Iterator[subprocess.Popen]:
    """`waddlebot <args>` in its own process group, output to files; killed on the way out."""
    with contextlib.ExitStack() as files:
        err = files.enter_context(open(stderr, "w")) if stderr else subprocess.DEVNULL
        out = files.enter_context(open(stdout, "w")) if stdout else subprocess.DEVNULL
        process = subprocess.Popen([sys.executable, "-m", "shared.cli", *args], cwd=PROJECT_ROOT,
                                   env={**os.environ, **(env or {})}, stdout=out, stderr=err,
                                   start_new_session=True)
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
