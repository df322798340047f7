"""GET /twitch_chat/requests/<token> and POST …/submit: tickets, links, oEmbed, activity."""

import datetime

import pytest
import requests

from shared.db import get_db, transaction, utcnow
from tests.apps.twitch_chat.conftest import (
    SPOTIFY_OEMBED,
    TRACK_ID,
    TRACK_URL,
    VIDEO_ID,
    VIDEO_META,
    VIDEO_URL,
    YOUTUBE_OEMBED,
    open_ticket,
)


def expire(db, minutes: int = 1) -> None:
    with transaction(db):
        db(db.reco_ticket).update(expires_at=utcnow() - datetime.timedelta(minutes=minutes))


def test_a_ticket_describes_who_asked_and_until_when(client, ticket, db):
    body = client.get(f"/twitch_chat/requests/{ticket}").json
    expires = datetime.datetime.fromisoformat(body.pop("expires_at").removesuffix("Z"))
    assert body == {"user": "Viewer", "comment": "something chill", "channel": "streamer", "status": "open"}
    assert datetime.timedelta(minutes=4) < expires - utcnow() <= datetime.timedelta(minutes=5)


@pytest.mark.parametrize("token", ["unknown-token-0123456789abcdef", "short", "x" * 80, "bad!token*chars-01234567"])
def test_an_unknown_ticket_is_404(client, db, token):
    response = client.get(f"/twitch_chat/requests/{token}", status=404)
    assert "does not exist" in response.json["message"]


def test_an_expired_ticket_is_410(client, ticket, db):
    expire(db)
    assert "expired" in client.get(f"/twitch_chat/requests/{ticket}", status=410).json["message"]
    assert client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": VIDEO_URL}, status=410)
    assert db(db.recommendation).count() == 0


def test_submitting_stores_the_recommendation_and_its_activity(client, ticket, db, oembed, configure):
    configure(RECO_POINTS="35")
    response = client.post_json(f"/twitch_chat/requests/{ticket}/submit",
                                {"url": f"https://youtu.be/{VIDEO_ID}?si=share"}, status=201)
    body = response.json["recommendation"]
    assert body["url"] == VIDEO_URL and body["platform"] == "youtube" and body["kind"] == "video"
    assert (body["title"], body["author_name"], body["thumbnail_url"]) == (
        VIDEO_META["title"], VIDEO_META["author_name"], VIDEO_META["thumbnail_url"])
    assert (body["status"], body["metadata_status"], body["user"], body["comment"]) == (
        "new", "complete", "Viewer", "something chill")
    activity = db(db.activity).select().first()
    assert (activity.activity_type, activity.points, activity.user_id, activity.channel_id) == (
        "recommendation", 35, "42", "1337")
    assert activity.details["url"] == VIDEO_URL and activity.details["title"] == VIDEO_META["title"]
    outbox = db(db.outbox).select().first()
    assert outbox.activity_id == activity.id and outbox.kind == "reputation"
    assert db.recommendation[body["id"]].activity_id == activity.id
    assert client.get(f"/twitch_chat/requests/{ticket}", status=409)


def test_a_second_submit_is_409_and_changes_nothing(client, ticket, db, oembed):
    client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": VIDEO_URL}, status=201)
    response = client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": TRACK_URL}, status=409)
    assert "already used" in response.json["message"]
    assert db(db.recommendation).count() == 1 and db(db.activity).count() == 1


def test_a_form_post_is_accepted_too(client, ticket, db, oembed):
    response = client.post(f"/twitch_chat/requests/{ticket}/submit", {"url": f"spotify:track:{TRACK_ID}"},
                           status=201)
    assert response.json["recommendation"]["url"] == TRACK_URL
    assert response.json["recommendation"]["title"] == "Never Gonna Give You Up"


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", "application/json"),
    (b'["https://youtu.be/dQw4w9WgXcQ"]', "application/json"),
    (b'{"link": "https://youtu.be/dQw4w9WgXcQ"}', "application/json"),
])
def test_a_malformed_json_body_is_400(client, ticket, db, body, content_type):
    response = client.post(f"/twitch_chat/requests/{ticket}/submit", body, content_type=content_type, status=400)
    assert '"url"' in response.json["message"]


def test_a_link_that_is_not_accepted_is_422_listing_the_accepted_forms(client, ticket, db, oembed):
    response = client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": "https://vimeo.com/123"},
                                status=422)
    message = response.json["message"]
    assert "not a link we accept" in message and "youtu.be" in message and "open.spotify.com" in message
    assert len(oembed.calls) == 0 and db(db.recommendation).count() == 0
    assert client.get(f"/twitch_chat/requests/{ticket}").json["status"] == "open"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_link_oembed_does_not_know_is_422_not_available(client, ticket, db, oembed, status):
    oembed.replace("GET", YOUTUBE_OEMBED, status=status)
    response = client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": VIDEO_URL}, status=422)
    assert "this link is not available" in response.json["message"].lower()
    assert db(db.recommendation).count() == 0 and db(db.activity).count() == 0
    assert client.get(f"/twitch_chat/requests/{ticket}").json["status"] == "open"


def test_oembed_down_stores_the_recommendation_with_metadata_pending(client, ticket, db, oembed):
    oembed.replace("GET", SPOTIFY_OEMBED, body=requests.ConnectTimeout("timed out"))
    body = client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": TRACK_URL}, status=201).json
    recommendation = body["recommendation"]
    assert recommendation["metadata_status"] == "pending" and recommendation["title"] is None
    assert db(db.activity).count() == 1


def test_oembed_answers_are_cached_and_endpoints_configurable(client, db, oembed, configure):
    configure(YOUTUBE_OEMBED_URL="https://oembed.example/yt", OEMBED_TIMEOUT_SECONDS="2.5")
    oembed.get("https://oembed.example/yt", json={"title": "Configured endpoint"})
    first = client.post_json(f"/twitch_chat/requests/{open_ticket(user_id='1')}/submit", {"url": VIDEO_URL}).json
    second = client.post_json(f"/twitch_chat/requests/{open_ticket(user_id='2')}/submit",
                              {"url": f"https://m.youtube.com/watch?v={VIDEO_ID}"}).json
    assert first["recommendation"]["title"] == second["recommendation"]["title"] == "Configured endpoint"
    assert [call.request.url.split("?")[0] for call in oembed.calls] == ["https://oembed.example/yt"]
    assert oembed.calls[0].request.req_kwargs["timeout"] == 2.5


def test_the_pending_metadata_is_completed_by_the_retry(client, ticket, db, oembed):
    from apps.twitch_chat import reco

    oembed.replace("GET", YOUTUBE_OEMBED, status=503)
    client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": VIDEO_URL}, status=201)
    assert reco.complete_pending_metadata(get_db()) == 1
    row = db(db.recommendation).select().first()
    assert (row.metadata_status, row.metadata_attempts) == ("pending", 1)
    assert row.metadata_next_at > utcnow()
    assert reco.complete_pending_metadata(get_db()) == 0  # not due yet
    with transaction(db):
        db(db.recommendation).update(metadata_next_at=utcnow())
    oembed.replace("GET", YOUTUBE_OEMBED, json=VIDEO_META)
    assert reco.complete_pending_metadata(get_db()) == 1
    db.commit()
    row = db(db.recommendation).select().first()
    assert (row.metadata_status, row.title, row.thumbnail_url) == ("complete", VIDEO_META["title"],
                                                                    VIDEO_META["thumbnail_url"])


def test_a_retry_that_learns_the_link_is_gone_marks_it_unavailable(client, ticket, db, oembed):
    from apps.twitch_chat import reco

    oembed.replace("GET", YOUTUBE_OEMBED, status=502)
    client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": VIDEO_URL}, status=201)
    oembed.replace("GET", YOUTUBE_OEMBED, status=404)
    reco.complete_pending_metadata(get_db())
    db.commit()
    assert db(db.recommendation).select().first().metadata_status == "unavailable"


def test_a_thumbnail_that_is_not_http_is_dropped(client, ticket, db, oembed):
    oembed.replace("GET", YOUTUBE_OEMBED, json={"title": "x", "thumbnail_url": "javascript:alert(1)"})
    body = client.post_json(f"/twitch_chat/requests/{ticket}/submit", {"url": VIDEO_URL}).json
    assert body["recommendation"]["thumbnail_url"] == ""
