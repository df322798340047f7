"""The viewer's page GET/POST /twitch_chat/submit/<token>: without JavaScript, then in Chromium."""

import datetime

import pytest

from shared.db import transaction, utcnow
from tests.apps.twitch_chat.conftest import VIDEO_ID, VIDEO_META, VIDEO_URL, YOUTUBE_OEMBED, open_ticket


def test_the_page_shows_who_asked_and_a_form(client, ticket, db):
    page = client.get(f"/twitch_chat/submit/{ticket}")
    assert page.status_int == 200
    assert "Recommend something to streamer" in page.text and "something chill" in page.text
    form = page.forms[0]
    assert form.action == f"/twitch_chat/submit/{ticket}" and form.method.lower() == "post"
    assert 'name="viewport"' in page.text and "<script" not in page.text
    assert "5 more minutes" in page.text


def test_submitting_the_form_redirects_to_a_confirmation(client, ticket, db, oembed):
    page = client.get(f"/twitch_chat/submit/{ticket}")
    page.forms[0]["url"] = f"https://youtu.be/{VIDEO_ID}"
    response = page.forms[0].submit(status=303)
    assert response.headers["Location"].endswith(f"/twitch_chat/submit/{ticket}")
    confirmation = response.follow()
    assert "Thanks, Viewer!" in confirmation.text and VIDEO_META["title"] in confirmation.text
    assert f'src="{VIDEO_META["thumbnail_url"]}"' in confirmation.text and VIDEO_URL in confirmation.text
    assert db(db.recommendation).count() == 1


def test_a_bad_link_shows_the_error_and_keeps_the_form(client, ticket, db, oembed):
    response = client.post(f"/twitch_chat/submit/{ticket}", {"url": "https://vimeo.com/1"}, status=422)
    assert "not a link we accept" in response.text and 'value="https://vimeo.com/1"' in response.text
    assert response.forms[0].action == f"/twitch_chat/submit/{ticket}"


def test_an_unavailable_video_shows_a_clear_error(client, ticket, db, oembed):
    oembed.replace("GET", YOUTUBE_OEMBED, status=404)
    response = client.post(f"/twitch_chat/submit/{ticket}", {"url": VIDEO_URL}, status=422)
    assert "This link is not available" in response.text


def test_the_viewer_text_is_escaped(client, db):
    token = open_ticket(comment="<script>alert(1)</script>")
    page = client.get(f"/twitch_chat/submit/{token}")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_unknown_and_expired_links_say_what_to_do(client, ticket, db):
    assert "Type !reco in the chat" in client.get("/twitch_chat/submit/nope-nope-nope-nope-nope", status=404).text
    with transaction(db):
        db(db.reco_ticket).update(expires_at=utcnow() - datetime.timedelta(minutes=1))
    page = client.get(f"/twitch_chat/submit/{ticket}", status=410)
    assert "Link expired" in page.text and not page.forms
    assert "expired" in client.post(f"/twitch_chat/submit/{ticket}", {"url": VIDEO_URL}, status=410).text


@pytest.mark.browser
def test_a_viewer_submits_a_link_from_a_phone(live_server, browser, db, oembed):
    token = open_ticket(comment="your favourite boss music")
    oembed.replace("GET", YOUTUBE_OEMBED, json={**VIDEO_META, "thumbnail_url": f"{live_server}/thumb.jpg"})
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/twitch_chat/submit/{token}")
        assert page.locator(".comment").inner_text() == "your favourite boss music"
        page.fill("#url", "https://vimeo.com/76979871")
        page.click("button[type=submit]")
        assert "not a link we accept" in page.locator("#error").inner_text()
        page.fill("#url", f"https://music.youtube.com/watch?v={VIDEO_ID}&si=x")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/twitch_chat/submit/{token}")
        assert page.locator(".confirmation").inner_text() == "Your recommendation was sent to streamer."
        assert page.locator(".title").inner_text() == VIDEO_META["title"]
        assert page.locator("img.thumb").get_attribute("src") == f"{live_server}/thumb.jpg"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    finally:
        context.close()
    db.commit()
    assert db(db.recommendation).select().first().url == VIDEO_URL


def test_a_used_link_whose_recommendation_was_deleted_says_so(client, ticket, db, oembed):
    client.post(f"/twitch_chat/submit/{ticket}", {"url": VIDEO_URL}, status=303)
    with transaction(db):
        db(db.recommendation).delete()
    page = client.get(f"/twitch_chat/submit/{ticket}", status=409)
    assert "Link already used" in page.text and not page.forms
