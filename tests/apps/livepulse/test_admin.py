import time

import pytest
import responses

from apps.livepulse import quota
from tests.apps.livepulse.conftest import make_event, seed

HELIX_USERS = "https://api.twitch.tv/helix/users"
TWITCH_TOKEN = "https://id.twitch.tv/oauth2/token"


def streams_of(db, event_id):
    rows = db(db.lp_stream.event_id == event_id).select(orderby=db.lp_stream.id)
    return [(row.platform, row.external_id) for row in rows]


def test_create_edit_and_delete_an_event(admin_client, db, now):
    response = admin_client.post("/livepulse/admin/events", {"name": " Summer finals ", "description": "day 1"})
    event_id = db(db.lp_event).select().first().id
    assert response.status_int == 303 and response.location.endswith(f"/livepulse/admin#event-{event_id}")
    page = admin_client.get("/livepulse/admin")
    assert "Summer finals" in page.text and f'href="/livepulse/event/{event_id}/dashboard"' in page.text

    admin_client.post(f"/livepulse/admin/events/{event_id}", {"name": "Summer finals, day 1"})
    assert db.lp_event(event_id).name == "Summer finals, day 1"

    _, streams = make_event(db, name="Other")
    seed(db, event_id, [], now, 1)
    admin_client.post(f"/livepulse/admin/events/{event_id}/delete")
    assert db.lp_event(event_id) is None and db(db.lp_sample).count() == 0
    assert db(db.lp_stream).count() == len(streams)  # the other event keeps its streams


def test_an_event_needs_a_name(admin_client, db):
    page = admin_client.post("/livepulse/admin/events", {"name": "  "}, status=400)
    assert "name: an event needs a name" in page.text and db(db.lp_event).count() == 0


@pytest.mark.parametrize("value", [
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=5", "https://youtu.be/dQw4w9WgXcQ",
    "https://www.youtube.com/live/dQw4w9WgXcQ?feature=share", "https://youtube.com/shorts/dQw4w9WgXcQ",
    "dQw4w9WgXcQ"])
def test_add_a_youtube_stream_by_url_or_id(admin_client, db, value):
    event_id, _ = make_event(db, streams=())
    admin_client.post(f"/livepulse/admin/events/{event_id}/streams", {"stream": value, "platform": "auto"}, status=303)
    assert streams_of(db, event_id) == [("youtube", "dQw4w9WgXcQ")]


@responses.activate
def test_add_twitch_streams_by_login_or_url(admin_client, db, configure):
    configure(TWITCH_APP_ID="app", TWITCH_APP_SECRET="secret")
    responses.post(TWITCH_TOKEN, json={"access_token": "app-token", "expires_in": 3600, "token_type": "bearer"})
    responses.get(HELIX_USERS, json={"data": [{"id": "1", "login": "shroud", "display_name": "Shroud"}]})
    responses.get(HELIX_USERS, json={"data": []})
    event_id, _ = make_event(db, streams=())
    admin_client.post(f"/livepulse/admin/events/{event_id}/streams",
                      {"stream": "https://www.twitch.tv/Shroud", "platform": "auto"}, status=303)
    assert streams_of(db, event_id) == [("twitch", "shroud")]
    assert db(db.lp_stream).select().first().channel_title == "Shroud"
    page = admin_client.post(f"/livepulse/admin/events/{event_id}/streams", {"stream": "nobody_here",
                                                                              "platform": "twitch"}, status=400)
    assert "there is no Twitch user named nobody_here" in page.text
    assert streams_of(db, event_id) == [("twitch", "shroud")]


def test_a_twitch_login_cannot_be_checked_without_twitch_credentials(admin_client, db):
    event_id, _ = make_event(db, streams=())
    page = admin_client.post(f"/livepulse/admin/events/{event_id}/streams", {"stream": "shroud",
                                                                              "platform": "twitch"}, status=503)
    assert "could not check the Twitch login shroud" in page.text and streams_of(db, event_id) == []


@pytest.mark.parametrize("value, platform, message", [
    ("", "auto", "stream: enter a YouTube URL or video id, or a Twitch login"),
    ("https://example.com/video", "auto", "is not a YouTube URL"),
    ("not a login!", "twitch", "is not a Twitch login"),
    ("abc", "youtube", "is not a YouTube URL (watch, youtu.be, live/, shorts) or video id"),
    ("aaaaaaaaaaa", "vimeo", "platform must be one of auto, youtube, twitch"),
    ("aaaaaaaaaaa", "youtube", "youtube aaaaaaaaaaa is already part of this event"),
])
def test_bad_stream_input_is_refused(admin_client, db, event, value, platform, message):
    event_id, _ = event
    page = admin_client.post(f"/livepulse/admin/events/{event_id}/streams", {"stream": value, "platform": platform},
                             status=400)
    assert message in page.text and len(streams_of(db, event_id)) == 2


def test_remove_a_stream_with_its_samples(admin_client, db, event, now):
    event_id, (yt, tw) = event
    seed(db, event_id, [yt, tw], now - 60, 3)
    admin_client.post(f"/livepulse/admin/events/{event_id}/streams/{yt}/delete", status=303)
    assert streams_of(db, event_id) == [("twitch", "somestreamer")]
    assert db(db.lp_stream_sample.stream_id == yt).count() == 0 and db(db.lp_sample).count() == 3
    other, (other_stream, _) = make_event(db, name="Other")
    admin_client.post(f"/livepulse/admin/events/{event_id}/streams/{other_stream}/delete", status=404)
    assert db.lp_stream(other_stream) is not None


def test_the_page_shows_stream_states_and_the_quota(admin_client, db):
    event_id, (yt, tw) = make_event(db)
    db(db.lp_stream.id == yt).update(state="ended")
    db(db.lp_stream.id == tw).update(state="live", viewers=1234)
    now = time.time()
    quota.add_units(db, 42, now)
    quota.pause(db, now, "quotaExceeded")
    db.commit()
    page = admin_client.get("/livepulse/admin")
    row = page.html.select_one(f'tr[data-stream="{tw}"]').text
    assert "live" in row and "1234" in row
    assert page.html.select_one(f'tr[data-stream="{yt}"] .badge').text == "ended"
    assert page.html.select_one("#quota-units").text == "42"
    assert page.html.select_one("#quota-paused") is not None
