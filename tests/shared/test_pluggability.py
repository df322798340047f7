"""A module is one folder: the example module of README's "Writing a module" (tests/data/notes_module),
copied into a temporary apps folder beside the admin app, is listed, migrated, served, run by the
worker and shown in the navigation, with nothing of it in shared/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.settings import APPS_FOLDER
from tests.conftest import TEST_ENV
from tests.waiting import wait_until

EXAMPLE = Path(__file__).parent.parent / "data" / "notes_module" / "notes"


@pytest.fixture
def project(tmp_path):
    """A temporary apps folder holding the admin app and the example module, and its environment."""
    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "__init__.py").write_text("")
    (apps / "_default").symlink_to(APPS_FOLDER / "_default", target_is_directory=True)
    shutil.copytree(EXAMPLE, apps / "notes")
    env = dict(os.environ, WADDLEBOT_APPS_FOLDER=str(apps), WADDLEBOT_VAR_DIR=str(tmp_path / "var"),
               DATABASE_URL="sqlite://waddlebot.sqlite", REDIS_URL="", WADDLEBOT_ENV="development")
    return tmp_path, env


def waddlebot(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def notes(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "var" / "db" / "waddlebot.sqlite") as connection:
        return connection.execute("SELECT author, text FROM notes_note ORDER BY id").fetchall()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_module_folder_is_migrated_listed_run_served_and_navigable(project):
    tmp_path, env = project

    migrated = waddlebot(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert notes(tmp_path) == []

    listed = waddlebot(env, "modules")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("notes "))
    assert row.split()[1:3] == ["1.0.0", "ready"]

    added = waddlebot(env, "notes", "add", "hello from the command line")
    assert added.returncode == 0, added.stderr
    assert "noted: hello from the command line" in added.stdout

    worker = subprocess.Popen([sys.executable, "-m", "shared.cli", "worker", "--only", "notes"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: ("worker", "the worker was here") in notes(tmp_path), timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.stderr.read()
    assert notes(tmp_path) == [("cli", "hello from the command line"), ("worker", "the worker was here")]

    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "shared.cli", "web", "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin = {"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"], "Accept": "text/html"}
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/health", timeout=5).status_code in (200, 503)
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=60)
        page = requests.get(f"{base}/notes/admin", headers=admin, timeout=10)
        home = requests.get(f"{base}/", headers=admin, timeout=10)
        anonymous = requests.get(f"{base}/notes/admin", headers={"Accept": "text/html"}, timeout=10,
                                 allow_redirects=False)
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    assert page.status_code == 200
    assert "hello from the command line" in page.text and "the worker was here" in page.text
    assert '<a href="/notes/admin" aria-current="page">Notes</a>' in page.text
    assert home.status_code == 200 and '<a href="/notes/admin">Notes</a>' in home.text
    assert anonymous.status_code == 303 and anonymous.headers["Location"].startswith("/login?next=")
