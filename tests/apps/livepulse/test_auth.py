import re

import pytest

from apps.livepulse.access import PURPOSE, public_link
from shared.crypto import sign_token
from tests.apps.livepulse.conftest import make_event

ROUTES = [
    ("GET", "/livepulse/admin"),
    ("POST", "/livepulse/admin/events"),
    ("POST", "/livepulse/admin/events/{e}"),
    ("POST", "/livepulse/admin/events/{e}/delete"),
    ("POST", "/livepulse/admin/events/{e}/streams"),
    ("POST", "/livepulse/admin/events/{e}/streams/{s}/delete"),
    ("POST", "/livepulse/admin/events/{e}/public-link"),
    ("POST", "/livepulse/admin/events/{e}/public-link/revoke"),
    ("GET", "/livepulse/event/{e}/dashboard"),
    ("GET", "/livepulse/events/{e}/history"),
    ("GET", "/livepulse/events/{e}/stream"),
    ("GET", "/livepulse/events/{e}/history.csv"),
    ("GET", "/livepulse/events/{e}/streams/history.csv"),
    ("GET", "/livepulse/events/{e}/streams/{s}/history.csv"),
    ("POST", "/livepulse/events/{e}/export"),
    ("GET", "/livepulse/exports/{j}/status"),
    ("GET", "/livepulse/exports/{j}/download"),
]
PUBLIC = {"/livepulse/event/{e}/dashboard", "/livepulse/events/{e}/history"}  # + the stream (test_sse)


@pytest.fixture
def ids(db, event):
    event_id, streams = event
    return {"e": event_id, "s": streams[0], "j": "some-job"}


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_route_refuses_anonymous_callers(client, db, ids, method, path):
    response = client.request(path.format(**ids), method=method, status="*")
    assert response.status_int == 401 and response.json["status"] == 401
    assert db(db.lp_event).count() == 1 and db(db.lp_stream).count() == 2  # nothing changed


def test_browsers_are_sent_to_the_login(client, ids):
    for path in ("/livepulse/admin", "/livepulse/event/{e}/dashboard"):
        response = client.get(path.format(**ids), headers={"Accept": "text/html"}, status=303)
        assert response.location.endswith("/login?next=" + path.format(**ids).replace("/", "%2F"))


@pytest.mark.parametrize("method, path", [route for route in ROUTES if not route[1].endswith("/stream")])
def test_a_public_token_opens_only_the_read_only_routes(client, db, ids, method, path):
    """(The endless SSE response is covered in test_sse.)"""
    token = public_link(db.lp_event(ids["e"]), 1).split("token=")[1]
    response = client.request(path.format(**ids) + f"?token={token}", method=method, status="*")
    assert response.status_int == (200 if path in PUBLIC else 401)


def test_a_public_dashboard_may_be_embedded_and_the_admin_page_may_not(client, admin_headers, db, ids):
    token = public_link(db.lp_event(ids["e"]), 1).split("token=")[1]
    embedded = client.get(f"/livepulse/event/{ids['e']}/dashboard?token={token}").headers
    assert "frame-ancestors *" in embedded["Content-Security-Policy"] and "X-Frame-Options" not in embedded
    assert client.get("/livepulse/admin", headers=admin_headers).headers["X-Frame-Options"] == "DENY"


def test_public_links_are_bound_to_their_event_revocable_and_expire(client, admin_headers, db, ids):
    page = client.post(f"/livepulse/admin/events/{ids['e']}/public-link", {"days": "7"}, headers=admin_headers)
    link = re.search(r'value="(http://127\.0\.0\.1:8000/livepulse/event/\d+/dashboard\?token=[^"]+)"', page.text)[1]
    token = link.split("token=")[1]
    assert client.get(f"/livepulse/events/{ids['e']}/history?token={token}").json["event"]["id"] == ids["e"]
    other, _ = make_event(db, name="Other")
    client.get(f"/livepulse/events/{other}/history?token={token}", status=401)
    expired = sign_token(PURPOSE, -10, event=ids["e"], v=1)
    client.get(f"/livepulse/events/{ids['e']}/history?token={expired}", status=401)
    client.post(f"/livepulse/admin/events/{ids['e']}/public-link/revoke", headers=admin_headers, status=303)
    client.get(f"/livepulse/events/{ids['e']}/history?token={token}", status=401)
