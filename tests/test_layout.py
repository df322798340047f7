"""The house rules, read from the imports: apps → shared → modules, apps → modules, nothing back;
no app imports another app; modules/ imports no framework and not the core."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = {"py4web", "pydal", "ombott", "yatl", "shared", "apps"}


def imports(root: Path, path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = list(path.relative_to(root).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def breaks_a_rule(layer: str, app: str | None, name: str) -> bool:
    parts = name.split(".")
    if layer == "shared":
        return parts[0] == "apps"
    if layer == "modules":
        return parts[0] in FRAMEWORK
    return parts[0] == "apps" and len(parts) > 1 and parts[1] != app


def violations(root: Path) -> list[str]:
    found = []
    for layer in ("shared", "modules", "apps"):
        for path in sorted((root / layer).rglob("*.py")):
            relative = path.relative_to(root)
            if "_dashboard" in relative.parts:
                continue
            app = relative.parts[1] if layer == "apps" else None
            found += [f"{relative} imports {name}" for name in sorted(imports(root, path))
                      if breaks_a_rule(layer, app, name)]
    return found


def test_the_code_keeps_the_dependency_rules():
    assert violations(ROOT) == []


def test_each_kind_of_violation_is_reported(tmp_path):
    planted = {
        "shared/core.py": "from apps.chat import reco\n",
        "modules/lib.py": "import pydal\nfrom shared.db import get_db\n",
        "apps/chat/views.py": "from ..pulse import samples\nfrom . import reco\n",
        "apps/pulse/samples.py": "from apps.pulse.schema import define\n",
    }
    for name, source in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    assert violations(tmp_path) == [
        "shared/core.py imports apps.chat",
        "shared/core.py imports apps.chat.reco",
        "modules/lib.py imports pydal",
        "modules/lib.py imports shared.db",
        "modules/lib.py imports shared.db.get_db",
        "apps/chat/views.py imports apps.pulse",
        "apps/chat/views.py imports apps.pulse.samples",
    ]
