"""The seed Twitch module's /twitch/auth/… paths still work (manifest aliases), and
TWITCH_REDIRECT_URI set to the old callback completes a login."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.apps.twitch_auth.test_login_flow import twitch_grants

OLD_CALLBACK = "http://127.0.0.1:8000/twitch/auth/callback"


def test_a_login_registered_with_the_old_callback_completes(client, twitch, db, configure):
    configure(TWITCH_REDIRECT_URI=OLD_CALLBACK)
    twitch_grants(twitch)
    location = client.get("/twitch/auth/login", status=303).headers["Location"]
    params = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    assert params["redirect_uri"] == OLD_CALLBACK
    page = client.get(f"/twitch/auth/callback?code=the-code&state={params['state']}&scope=user%3Aread%3Aemail")
    assert page.status_int == 200 and "alice" in page.text
    assert parse_qs(twitch.calls[0].request.body)["redirect_uri"] == [OLD_CALLBACK]
    assert db(db.twitch_token).count() == 1


def test_the_old_admin_paths_answer_as_the_new_ones(client, twitch, db, admin_headers):
    twitch_grants(twitch)
    state = parse_qs(urlsplit(client.get("/twitch_auth/login").headers["Location"]).query)["state"][0]
    client.get(f"/twitch_auth/callback?code=c&state={state}&scope=user%3Aread%3Aemail", status=200)
    assert client.get("/twitch/auth/users", headers=admin_headers).json == client.get(
        "/twitch_auth/users", headers=admin_headers).json
    assert client.get("/twitch/auth/status?user_id=1234", headers=admin_headers).json == client.get(
        "/twitch_auth/status?user_id=1234", headers=admin_headers).json
    client.get("/twitch/auth/users", status=401)  # the same authentication as the new path
    assert client.post("/twitch/auth/refresh/999", headers=admin_headers, expect_errors=True).status_int == 404
    assert client.post("/twitch/auth/revoke/999", headers=admin_headers, expect_errors=True).status_int == 404
