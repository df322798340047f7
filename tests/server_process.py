"""A real WaddleBot web server process on 127.0.0.1 (the test's environment and database), which a
test can stop and start again on the same port: what a browser sees across a server restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/login", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WEB_WORKERS": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "shared.cli", "web", "--host", "127.0.0.1",
                                         "--port", str(self.port)], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        self.process = None
        wait_until(lambda: not self._answers(), timeout=30)
