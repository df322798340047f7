"""The peers' own virtualenv: var/bench-peers, built from bench/peers-requirements.txt on first use.

    .venv/bin/python bench/peers.py        # build it (or check it) and print its python

The benches import nothing from it into the project's interpreter: they run the peers' servers and
parsers as child processes of this interpreter (`peer_python()`), so the pinned peers never touch
the project's dependencies. pip fetches the packages by name from the configured package index.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "peers-requirements.txt"
PEERS_DIR = ROOT / "var" / "bench-peers"


def peer_python() -> Path:
    """The peers' interpreter, (re)installing the pinned requirements when they changed."""
    python = PEERS_DIR / "bin" / "python"
    stamp = PEERS_DIR / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(PEERS_DIR)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return python


if __name__ == "__main__":
    print(peer_python(), file=sys.stdout)
