"""The module's background service: the worker process runs it (a singleton: one worker at a time)."""

import threading

from shared.db import get_db, transaction, utcnow


def stamp(stop: threading.Event) -> None:
    """Leave one note when the service starts, then wait until the worker stops."""
    with transaction(get_db()) as db:
        db.notes_note.insert(text="the worker was here", author="worker", created_at=utcnow())
    stop.wait()
