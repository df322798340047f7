"""Reading a table's new rows in id order, table-agnostic: what a consumer of an append-only table
(events, dispatched events) uses instead of a queue."""

from __future__ import annotations

import time
from collections.abc import Callable

GAP_SECONDS = 30.0  # how long an id skipped by the cursor may still appear (a transaction committing late)
MAX_GAPS = 10000


class RowFeed:
    """New rows of `table` (whose `where(table)` holds, when given) in id order. Ids are given out
    before their transaction commits, so an id the cursor jumped over is looked for again during
    GAP_SECONDS."""

    table = ""  # a subclass may name its table instead of passing it

    def __init__(self, cursor: int, batch: int = 500, clock: Callable[[], float] = time.monotonic, *,
                 table: str | None = None, where: Callable | None = None):
        self.cursor, self.batch, self.clock = cursor, batch, clock
        self.table = table or self.table
        self.where = where
        self.gaps: dict[int, float] = {}

    @classmethod
    def from_latest(cls, db, **options) -> RowFeed:
        """A feed of the rows stored from now on."""
        table = db[options.get("table") or cls.table]
        latest = table.id.max()
        return cls(db(table).select(latest).first()[latest] or 0, **options)

    def _query(self, table, query):
        return query & self.where(table) if self.where is not None else query

    def poll(self, db) -> list:
        table = db[self.table]
        rows = list(db(self._query(table, table.id > self.cursor)).select(orderby=table.id, limitby=(0, self.batch)))
        if self.gaps:
            late = list(db(self._query(table, table.id.belongs(list(self.gaps)))).select())
            for row in late:
                del self.gaps[row.id]
            rows = late + rows
        now = self.clock()
        for row in rows:
            if row.id > self.cursor:
                last = min(row.id, self.cursor + 1 + max(0, MAX_GAPS - len(self.gaps)))
                self.gaps.update((missing, now) for missing in range(self.cursor + 1, last))
                self.cursor = row.id
        self.gaps = {gap: seen for gap, seen in self.gaps.items() if now - seen < GAP_SECONDS}
        return sorted(rows, key=lambda row: row.id)
