"""A database made by release 0.1.0 (one module's tables still defined in shared/schema/, recorded in
tests/data as `sqlite3 .dump` output right after its `waddlebot migrate`) migrates without loss: each
of its tables gets a row, the new `migrate` runs, and every row reads back the same, also through
the new DAL where each module defines its own tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.db import migrate, open_db
from shared.settings import Settings

RELEASE_DUMP = Path(__file__).parent.parent / "data" / "release_0_1_0.sqlite.sql"
METADATA = "web2py_filesystem"  # pydal's InDBMigrator: the migration state, kept in the database


def sample_value(table: str, column: str, declared: str, row_id: int):
    declared = declared.upper()
    if column == "id":
        return row_id
    if declared.startswith(("INTEGER", "BIGINT")):
        return 7
    if declared.startswith(("DOUBLE", "REAL", "FLOAT", "NUMERIC", "DECIMAL")):
        return 2.5
    if declared.startswith(("TIMESTAMP", "DATETIME")):
        return "2026-11-01 12:34:56"
    if declared.startswith("DATE"):
        return "2026-11-01"
    if declared.startswith("CHAR(1)") or declared.startswith("BOOLEAN"):
        return "T"
    if declared.startswith("TEXT"):  # text, json and list:string columns: a JSON string reads as each
        return f'"{table}.{column}"'
    return f"{table}.{column}"[:32]


def fill(connection: sqlite3.Connection) -> dict[str, list[tuple]]:
    """One row in each table (foreign keys point at row 1 of the referenced table)."""
    tables = [name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name != ?",
        (METADATA,))]
    stored = {}
    for table in tables:
        columns = connection.execute(f"PRAGMA table_info({table})").fetchall()
        values = [sample_value(table, name, declared, 1) for _, name, declared, *_ in columns]
        names = ", ".join(name for _, name, *_ in columns)
        connection.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(values))})", values)
        stored[table] = connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    connection.commit()
    return stored


def test_a_release_0_1_0_database_migrates_without_loss(tmp_path):
    (tmp_path / "db").mkdir()
    path = tmp_path / "db" / "release.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(RELEASE_DUMP.read_text())
        before = fill(connection)
    assert len(before) == 26

    settings = Settings(database_url="sqlite://release.sqlite", waddlebot_var_dir=str(tmp_path))
    tables = migrate(settings)

    assert set(before) <= set(tables)
    with sqlite3.connect(path) as connection:
        after = {table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in before}
    # columns added since (at the end of each row) are new; the release's own values are all kept
    assert {table: [row[:len(before[table][0])] for row in rows] for table, rows in after.items()} == before
    db = open_db(settings, migrate=False)
    try:
        for table in before:
            rows = db(db[table]).select()
            assert [row.id for row in rows] == [1], table
        assert db(db.recommendation).select().first().channel_login == "recommendation.channel_login"
    finally:
        db.close()
