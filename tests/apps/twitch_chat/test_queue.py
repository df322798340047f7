"""The streamer's queue: the admin page, its JSON API and the live SSE feed."""

import json

import pytest
import requests

from apps.twitch_chat import controllers, reco
from shared.db import get_db, transaction
from tests.apps.twitch_chat.conftest import TRACK_URL, VIDEO_URL, open_ticket

OTHER_VIDEO = "https://youtu.be/9bZkp7q19f0"


def recommend(url: str, channel: str = "streamer", user_id: str = "42") -> int:
    token = open_ticket(channel=channel, user_id=user_id, channel_id=f"id-{channel}")
    with transaction(get_db()) as db:
        return reco.submit(db, token, url).id


@pytest.fixture
def queue(db, oembed):
    """Three recommendations, oldest first: YouTube and Spotify in #streamer, YouTube in #other."""
    return [recommend(VIDEO_URL), recommend(TRACK_URL, user_id="43"), recommend(OTHER_VIDEO, channel="other")]


def test_the_queue_is_for_admins(client, db):
    assert "/login?next=" in client.get("/twitch_chat/recommendations", headers={"Accept": "text/html"},
                                        status=303).headers["Location"]
    assert client.get("/twitch_chat/api/recommendations", status=401).json["status"] == 401
    assert client.get("/twitch_chat/api/recommendations/stream", status=401)
    assert client.patch_json("/twitch_chat/api/recommendations/1", {"status": "accepted"}, status=401)
    assert client.post("/twitch_chat/recommendations/1/accept", status=401)


def ids_on(page) -> list[int]:
    return [int(row.attrs["data-id"]) for row in page.html.select("tr.recommendation")]


def test_the_page_lists_newest_first_and_filters(admin_client, queue):
    first, second, third = queue
    assert ids_on(admin_client.get("/twitch_chat/recommendations")) == [third, second, first]
    assert ids_on(admin_client.get("/twitch_chat/recommendations?platform=spotify")) == [second]
    assert ids_on(admin_client.get("/twitch_chat/recommendations?channel=other")) == [third]
    assert ids_on(admin_client.get("/twitch_chat/recommendations?status=accepted")) == []
    page = admin_client.get("/twitch_chat/recommendations?status=bogus", status=422)
    assert "status must be one of new, accepted, played, rejected" in page.text


def test_accept_mark_played_reject_and_delete_from_the_page(admin_client, queue, db):
    first, second, third = queue
    page = admin_client.get("/twitch_chat/recommendations?channel=streamer")
    form = page.forms[f"{first}-accept"] if f"{first}-accept" in page.forms else next(
        form for form in page.forms.values() if form.action.endswith(f"/{first}/accept"))
    response = form.submit(status=303)
    assert response.headers["Location"].endswith("/twitch_chat/recommendations?channel=streamer")
    admin_client.post(f"/twitch_chat/recommendations/{second}/reject", status=303)
    admin_client.post(f"/twitch_chat/recommendations/{third}/played", status=303)
    db.commit()
    assert [db.recommendation[i].status for i in queue] == ["accepted", "rejected", "played"]
    assert ids_on(admin_client.get("/twitch_chat/recommendations?status=accepted")) == [first]
    admin_client.post(f"/twitch_chat/recommendations/{second}/reopen", status=303)
    admin_client.post(f"/twitch_chat/recommendations/{third}/delete", status=303)
    db.commit()
    assert db.recommendation[second].status == "new" and db.recommendation[third] is None
    assert db(db.activity).count() == 3  # the activity stays: the viewer did recommend
    assert admin_client.post(f"/twitch_chat/recommendations/{first}/archive", status=404)
    assert admin_client.post(f"/twitch_chat/recommendations/{third}/accept", status=404)


def test_the_back_filters_cannot_split_the_redirect(admin_client, queue):
    back = "channel=streamer\r\nSet-Cookie: waddlebot_admin=x"
    response = admin_client.post(f"/twitch_chat/recommendations/{queue[0]}/accept", {"back": back}, status=303)
    assert "Set-Cookie: waddlebot_admin=x" not in str(response.headers)
    assert response.headers["Location"].endswith("/twitch_chat/recommendations?channel=streamer%0D%0ASet-Cookie%3A+"
                                                  "waddlebot_admin%3Dx")


def test_the_buttons_offer_only_other_statuses(admin_client, queue):
    admin_client.post(f"/twitch_chat/recommendations/{queue[0]}/accept", status=303)
    page = admin_client.get("/twitch_chat/recommendations")
    row = next(row for row in page.html.select("tr.recommendation") if row.attrs["data-id"] == str(queue[0]))
    assert [button.text for button in row.select("button")] == ["Played", "Reject", "Reopen", "Delete"]


def test_the_json_api_lists_filters_and_pages(client, admin_headers, queue):
    first, second, third = queue
    body = client.get("/twitch_chat/api/recommendations", headers=admin_headers).json
    assert [item["id"] for item in body["recommendations"]] == [third, second, first]
    assert body["next_before"] is None
    item = body["recommendations"][1]
    assert (item["url"], item["platform"], item["kind"], item["channel"], item["status"]) == (
        TRACK_URL, "spotify", "track", "streamer", "new")
    page = client.get("/twitch_chat/api/recommendations?limit=2", headers=admin_headers).json
    assert [item["id"] for item in page["recommendations"]] == [third, second] and page["next_before"] == second
    rest = client.get(f"/twitch_chat/api/recommendations?limit=2&before={second}", headers=admin_headers).json
    assert [item["id"] for item in rest["recommendations"]] == [first]
    filtered = client.get("/twitch_chat/api/recommendations?platform=youtube&channel=%23Streamer",
                          headers=admin_headers).json
    assert [item["id"] for item in filtered["recommendations"]] == [first]
    assert client.get("/twitch_chat/api/recommendations?platform=vimeo", headers=admin_headers, status=422)
    assert client.get("/twitch_chat/api/recommendations?limit=ten", headers=admin_headers, status=400)


def test_the_json_api_changes_one_recommendation(client, admin_headers, queue, db):
    first = queue[0]
    url = f"/twitch_chat/api/recommendations/{first}"
    assert client.get(url, headers=admin_headers).json["status"] == "new"
    assert client.patch_json(url, {"status": "accepted"}, headers=admin_headers).json["status"] == "accepted"
    assert "one of new, accepted" in client.patch_json(url, {"status": "maybe"}, headers=admin_headers,
                                                       status=422).json["message"]
    assert client.patch(url, "status=played", headers=admin_headers, status=400)
    assert client.delete(url, headers=admin_headers).json == {"deleted": first}
    assert client.get(url, headers=admin_headers, status=404)
    assert client.delete(url, headers=admin_headers, status=404)


def read_events(response, count: int) -> list[dict]:
    """The next `count` SSE events of a streaming response (comments and retry skipped)."""
    events, event = [], {}
    for line in response.iter_lines(chunk_size=1, decode_unicode=True):
        if line == "" and "data" in event:
            events.append(event)
            if len(events) == count:
                return events
        if line == "":
            event = {}
        elif line and not line.startswith(":"):
            field, _, value = line.partition(": ")
            event[field] = value
    raise AssertionError("the stream ended")


@pytest.fixture
def fast_polling(monkeypatch):
    monkeypatch.setattr(controllers, "POLL_SECONDS", 0.05)


def test_the_live_feed_sends_each_change(live_server, admin_headers, db, oembed, fast_polling):
    earlier = recommend(VIDEO_URL)
    with requests.get(f"{live_server}/twitch_chat/api/recommendations/stream", headers=admin_headers, stream=True,
                      timeout=5) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert next(stream.iter_lines(chunk_size=1, decode_unicode=True)) == "retry: 3000"
        created = recommend(TRACK_URL, user_id="43")
        with transaction(db):
            reco.set_status(db, created, "accepted")
            reco.delete_recommendation(db, earlier)
        events = read_events(stream, 3)
    assert [event["event"] for event in events] == ["recommendation"] * 3
    payloads = [json.loads(event["data"]) for event in events]
    assert [(payload["action"], payload["recommendation"]["id"]) for payload in payloads] == [
        ("created", created), ("updated", created), ("deleted", earlier)]
    assert payloads[1]["recommendation"]["status"] == "accepted"
    assert payloads[0]["recommendation"]["url"] == TRACK_URL
    assert [int(event["id"]) for event in events] == sorted(int(event["id"]) for event in events)


def test_the_live_feed_resumes_after_last_event_id(live_server, admin_headers, db, oembed, fast_polling):
    recommend(VIDEO_URL)
    second = recommend(TRACK_URL, user_id="43")
    seen = db(db.recommendation_event).select(orderby=db.recommendation_event.id).first().id
    with requests.get(f"{live_server}/twitch_chat/api/recommendations/stream", stream=True, timeout=5,
                      headers={**admin_headers, "Last-Event-ID": str(seen)}) as stream:
        [event] = read_events(stream, 1)
    assert json.loads(event["data"])["recommendation"]["id"] == second
