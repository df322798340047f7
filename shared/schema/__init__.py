"""The core's tables (`core`, `twitch`: what several modules share) and, after them, the tables
each module declares in its manifest ("schema": "apps.<app>.schema:define", with an `INDEXES`
list beside the function). The core owns migrations: `shared.db.migrate` defines and migrates all
of them; apps never migrate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.schema import core, twitch

CORE_AREAS = (core, twitch)


@dataclass(frozen=True)
class Index:
    table: str
    name: str
    columns: tuple[str, ...]
    unique: bool = False

    def sql(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        return f"CREATE {unique}INDEX IF NOT EXISTS {self.name} ON {self.table} ({', '.join(self.columns)});"


def areas() -> list[tuple[Callable, list]]:
    """(define(db), INDEXES) of the core's areas, then of each module's schema (registry order)."""
    from shared.registry import module_schemas

    return [*((area.define, area.INDEXES) for area in CORE_AREAS), *module_schemas()]


def define_all(db) -> None:
    for define, _ in areas():
        define(db)


def all_indexes() -> list[Index]:
    return [Index(*spec) for _, indexes in areas() for spec in indexes]
