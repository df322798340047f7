"""The fake Twitch OAuth server, driven by WaddleBot's own OAuth client (modules.twitch.oauth):
the bodies, status codes and error messages Twitch documents."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from modules.sandbox.twitch_id import FakeTwitchId
from modules.sandbox.web import Server
from modules.twitch import oauth
from tests.waiting import Clock


@pytest.fixture
def twitch():
    fake = FakeTwitchId(clock=Clock(1_000_000.0))
    server = Server(fake)
    fake.base_url = f"{server.url}/oauth2"
    yield fake
    server.stop()


def authorize(twitch: FakeTwitchId, user_id: str = "1001", scopes=("bits:read", "user:read:email"),
              granted=None, decision: str = "authorize") -> dict:
    """What a person does on the authorize page; the query WaddleBot's callback receives."""
    url = oauth.authorize_url(twitch.base_url, twitch.client_id, "http://127.0.0.1:9/cb", scopes, "state-1")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "waddle_streamer" in page.text and "bits:read" in page.text
    form = [(name, values[0]) for name, values in parse_qs(urlsplit(url).query).items()]
    form += [("user_id", user_id), ("decision", decision)]
    form += [("granted", scope) for scope in (scopes if granted is None else granted)]
    answer = requests.post(f"{twitch.base_url}/authorize", data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("http://127.0.0.1:9/cb?")
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_the_authorization_code_grant_gives_the_chosen_user_the_granted_scopes(twitch):
    callback = authorize(twitch, granted=["bits:read"])
    assert callback["state"] == "state-1" and callback["scope"] == "bits:read"
    grant = oauth.exchange_code(twitch.base_url, twitch.client_id, twitch.client_secret, callback["code"],
                                "http://127.0.0.1:9/cb")
    assert grant.scopes == ("bits:read",) and grant.refresh_token and grant.expires_in == 14400
    info = oauth.validate(twitch.base_url, grant.access_token)
    assert (info.user_id, info.login, info.scopes, info.client_id) == ("1001", "waddle_streamer", ("bits:read",),
                                                                       twitch.client_id)


def test_a_code_is_single_use_and_bound_to_its_redirect_uri(twitch):
    code = authorize(twitch)["code"]
    with pytest.raises(oauth.OAuthError) as wrong_uri:
        oauth.exchange_code(twitch.base_url, twitch.client_id, twitch.client_secret, code, "http://other/cb")
    assert wrong_uri.value.status == 400 and wrong_uri.value.reason == "Invalid authorization code"
    with pytest.raises(oauth.OAuthError):
        oauth.exchange_code(twitch.base_url, twitch.client_id, twitch.client_secret, code, "http://127.0.0.1:9/cb")


def test_cancel_sends_access_denied_back(twitch):
    callback = authorize(twitch, decision="cancel")
    assert callback["error"] == "access_denied" and callback["state"] == "state-1" and "code" not in callback


def test_refresh_rotates_both_tokens_and_the_old_refresh_token_is_rejected(twitch):
    code = authorize(twitch)["code"]
    first = oauth.exchange_code(twitch.base_url, twitch.client_id, twitch.client_secret, code, "http://127.0.0.1:9/cb")
    second = oauth.refresh(twitch.base_url, twitch.client_id, twitch.client_secret, first.refresh_token)
    assert second.access_token != first.access_token and second.scopes == first.scopes
    with pytest.raises(oauth.OAuthError) as err:
        oauth.refresh(twitch.base_url, twitch.client_id, twitch.client_secret, first.refresh_token)
    assert err.value.status == 400 and err.value.reason == "Invalid refresh token" and err.value.rejected
    with pytest.raises(oauth.OAuthError) as old:
        oauth.validate(twitch.base_url, first.access_token)
    assert old.value.status == 401 and old.value.reason == "invalid access token"


def test_a_token_expires_with_the_clock(twitch):
    token = twitch.issue("1001", ("bits:read",))
    assert oauth.validate(twitch.base_url, token.access).expires_in == 14400
    twitch.clock.now += 14401
    with pytest.raises(oauth.OAuthError) as err:
        oauth.validate(twitch.base_url, token.access)
    assert err.value.status == 401


def test_client_credentials_and_a_wrong_secret(twitch):
    app = oauth.client_credentials(twitch.base_url, twitch.client_id, twitch.client_secret)
    info = oauth.validate(twitch.base_url, app.access_token)
    assert info.user_id is None and info.login is None and app.refresh_token is None
    with pytest.raises(oauth.OAuthError) as err:
        oauth.client_credentials(twitch.base_url, twitch.client_id, "wrong")
    assert err.value.status == 403 and err.value.reason == "invalid client secret"


def test_revoke_answers_as_documented(twitch):
    token = twitch.issue("1001")
    oauth.revoke(twitch.base_url, twitch.client_id, token.access)
    with pytest.raises(oauth.OAuthError) as again:
        oauth.revoke(twitch.base_url, twitch.client_id, token.access)
    assert (again.value.status, again.value.reason) == (400, "Invalid token")
    with pytest.raises(oauth.OAuthError) as client:
        oauth.revoke(twitch.base_url, "nobody", "x")
    assert (client.value.status, client.value.reason) == (404, "client does not exist")


def test_the_device_flow_waits_for_the_person_then_grants(twitch):
    device = oauth.start_device_flow(twitch.base_url, twitch.client_id, ["chat:read", "chat:edit"])
    assert device.verification_uri.endswith(f"device-code={device.user_code}") and device.interval == 5
    polls = []

    def sleep(seconds: float) -> None:  # the person activates the code after the second poll
        polls.append(seconds)
        if len(polls) == 2:
            activated = requests.post(f"{twitch.base_url}/activate", data={"user_code": device.user_code,
                                                                            "user_id": "999"}, timeout=5)
            assert activated.status_code == 200

    grant = oauth.poll_device_flow(twitch.base_url, twitch.client_id, ["chat:read", "chat:edit"], device, sleep=sleep)
    assert len(polls) == 2 and grant.scopes == ("chat:read", "chat:edit")
    assert oauth.validate(twitch.base_url, grant.access_token).login == "waddlebot"
