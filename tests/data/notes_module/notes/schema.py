"""The module's own table; `waddlebot migrate` creates it and its indexes."""

from pydal import Field

INDEXES = [("notes_note", "notes_note_created_idx", ("created_at",))]


def define(db) -> None:
    db.define_table(
        "notes_note",
        Field("text", "string", length=200, notnull=True),
        Field("author", "string", length=32, notnull=True),
        Field("created_at", "datetime", notnull=True),
    )
