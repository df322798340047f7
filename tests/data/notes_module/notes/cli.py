"""`waddlebot notes add TEXT`: the module's command."""

import click

from shared.db import get_db, transaction, utcnow


@click.group()
def notes():
    """Notes, the example module."""


@notes.command()
@click.argument("text")
def add(text):
    """Add a note."""
    with transaction(get_db()) as db:
        db.notes_note.insert(text=text, author="cli", created_at=utcnow())
    click.echo(f"noted: {text}")


commands = [notes]
