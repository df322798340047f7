"""GET /notes/admin: the notes, newest first, inside the core's page shell."""

from py4web import action

from shared.fixtures import Page, admin, db


@action("admin", method=["GET"])
@action.uses(Page("notes.html"), db, admin)
def notes_page():
    notes = db(db.notes_note).select(orderby=~db.notes_note.id, limitby=(0, 50))
    return {"page_title": "Notes", "notes": notes}
