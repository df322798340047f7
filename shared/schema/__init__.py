"""Every table of the system, defined in one place: one file per area in this package, each with
`define(db)` and `INDEXES`. The core owns migrations; `core` comes first, the others by name."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

AREAS = [importlib.import_module(f"{__name__}.{info.name}")
         for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: (info.name != "core", info.name))]


@dataclass(frozen=True)
class Index:
    table: str
    name: str
    columns: tuple[str, ...]
    unique: bool = False

    def sql(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        return f"CREATE {unique}INDEX IF NOT EXISTS {self.name} ON {self.table} ({', '.join(self.columns)});"


def define_all(db) -> None:
    for area in AREAS:
        area.define(db)


INDEXES: list[Index] = [Index(*spec) for area in AREAS for spec in area.INDEXES]
