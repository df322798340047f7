"""The recommendation overlay opens in OBS through a secret link without any cookie, shows only the
accepted recommendations, and says so when its link is revoked; admins create and revoke links."""

from __future__ import annotations

import pytest

from shared import overlay_links
from shared.db import transaction, utcnow

PAGE = "/twitch_chat/overlays"


def accepted(db, title: str, status: str = "accepted", user: str = "Viewer") -> int:
    now = utcnow()
    with transaction(db):
        return db.recommendation.insert(
            channel_id="1337", channel_login="streamer", user_id="42", user_login=user.lower(), user_name=user,
            comment="secret comment", platform="youtube", kind="video", media_id=title, url=f"https://youtu.be/{title}",
            title=title, metadata_status="complete", status=status, created_at=now, updated_at=now)


@pytest.fixture
def link(admin_client, db) -> str:
    """A link made on the admin page: its path, for a client without the admin cookie."""
    admin_client.post(PAGE, {"label": "Main scene", "days": "30"}, status=303)
    url = admin_client.get(PAGE).html.select_one("tr.overlay-link input.link-url")["value"]
    admin_client.reset()  # OBS has no cookie
    return url.removeprefix("http://127.0.0.1:8000")


def test_the_link_opens_the_overlay_and_its_feed_without_a_cookie(client, db, link):
    accepted(db, "First")
    accepted(db, "Waiting", status="new")
    accepted(db, "Second", user="Other")
    page = client.get(link)
    assert page.status_code == 200 and page.html.select("header") == []
    assert page.html.body["data-state"] == "active" and page.html.select_one("#overlay-status").has_attr("hidden")
    feed = client.get(page.html.body["data-feed"]).json
    assert [(item["title"], item["user"]) for item in feed["recommendations"]] == [("Second", "Other"),
                                                                                   ("First", "Viewer")]
    assert "secret comment" not in str(feed)


def test_a_revoked_link_shows_the_revoked_state(admin_client, db, link):
    link_id = db(db.reco_overlay_link).select().first().id
    admin_client.post("/login", {"password": "correct horse battery staple", "next": "/"})
    admin_client.post(f"{PAGE}/{link_id}/revoke", status=303)
    admin_client.reset()
    page = admin_client.get(link, status=410)
    assert page.html.body["data-state"] == "revoked"
    assert "revoked" in page.html.select_one("#overlay-status").text and not page.html.select("script")
    feed = admin_client.get(link + "/feed", status=410).json
    assert feed["state"] == "revoked" and "Create a new link" in feed["message"]


def test_an_unknown_link_is_a_404_that_says_so(client, db):
    page = client.get("/twitch_chat/overlay/not-a-link", status=404)
    assert "not valid" in page.html.select_one("#overlay-status").text
    assert client.get("/twitch_chat/overlay/not-a-link/feed", status=404).json["state"] == "unknown"


def test_only_admins_manage_links(client, db):
    assert "/login?next=" in client.get(PAGE, headers={"Accept": "text/html"}, status=303).headers["Location"]
    assert client.post(PAGE, {"label": "x", "days": "1"}, status=401)
    assert client.post(f"{PAGE}/1/revoke", status=401)
    assert db(db.reco_overlay_link).count() == 0


def test_a_bad_form_is_answered_with_the_reason(admin_client, db):
    page = admin_client.post(PAGE, {"label": "Main", "days": "0"}, status=400)
    assert page.html.select_one(".error").text.startswith("days:")
    assert page.html.select_one("input[name=label]")["value"] == "Main"


def test_revoking_an_unknown_link_is_a_404(admin_client, db):
    assert "no active overlay link 99" in admin_client.post(f"{PAGE}/99/revoke", status=404).json["message"]


def test_the_old_overlay_address_leads_to_the_links(admin_client, db):
    assert admin_client.get("/twitch_chat/overlay", status=303).headers["Location"].endswith(PAGE)


def test_the_admin_page_lists_links_with_their_state(admin_client, db):
    token = overlay_links.create(db.reco_overlay_link, "Old", 1)
    overlay_links.revoke(db.reco_overlay_link, db(db.reco_overlay_link).select().first().id)
    db.commit()
    rows = admin_client.get(PAGE).html.select("tr.overlay-link")
    assert [row["data-state"] for row in rows] == ["revoked"] and token not in str(rows[0])
