"""Overlay links: a secret token opens the overlay until the link expires or is revoked; only its
digest is looked up, and the admin's bad input is refused with the reason."""

from __future__ import annotations

import datetime

import pytest

from shared import overlay_links
from shared.crypto import digest

NOW = datetime.datetime(2026, 5, 1, 18, 0)


def test_a_link_opens_until_it_expires(db):
    token = overlay_links.create(db.reco_overlay_link, "Main scene", 2, now=NOW)
    assert overlay_links.check(db.reco_overlay_link, token, now=NOW + datetime.timedelta(days=1)) == "active"
    assert overlay_links.check(db.reco_overlay_link, token, now=NOW + datetime.timedelta(days=2)) == "expired"


def test_a_revoked_link_no_longer_opens_and_others_still_do(db):
    table = db.reco_overlay_link
    kept, revoked = overlay_links.create(table, "Kept", 30, now=NOW), overlay_links.create(table, "Gone", 30, now=NOW)
    gone = table(token_hash=digest(revoked)).id
    assert overlay_links.revoke(table, gone, now=NOW) is True
    assert overlay_links.revoke(table, gone, now=NOW) is False
    assert overlay_links.check(table, revoked, now=NOW) == "revoked"
    assert overlay_links.check(table, kept, now=NOW) == "active"
    assert [(link.label, link.state, link.token) for link in overlay_links.links(table, now=NOW)] == [
        ("Gone", "revoked", revoked), ("Kept", "active", kept)]


def test_the_token_is_not_stored_in_the_clear(db):
    token = overlay_links.create(db.alert_overlay_link, "Alerts", 1, now=NOW)
    row = db(db.alert_overlay_link).select().first()
    assert token not in (row.token_hash, row.token_encrypted) and row.token_hash == digest(token)


def test_a_link_of_one_module_does_not_open_another(db):
    token = overlay_links.create(db.reco_overlay_link, "Reco", 1, now=NOW)
    assert overlay_links.check(db.alert_overlay_link, token, now=NOW) == "unknown"
    assert overlay_links.check(db.reco_overlay_link, "guessed", now=NOW) == "unknown"


@pytest.mark.parametrize(("label", "days", "named"), [("", 1, "label"), ("x" * 81, 1, "label"),
                                                      ("Main", "0", "days"), ("Main", "ten", "days"),
                                                      ("Main", "3651", "days"), ("Main", "²", "days"),
                                                      ("Main", "٣", "days")])
def test_unusable_input_is_refused_with_the_reason(db, label, days, named):
    with pytest.raises(overlay_links.LinkError, match=f"^{named}:"):
        overlay_links.create(db.reco_overlay_link, label, days, now=NOW)
    assert db(db.reco_overlay_link).count() == 0
