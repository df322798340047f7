"""Wire calls of the Twitch OAuth endpoints, as Twitch documents them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from modules.twitch import oauth
from modules.twitch.oauth import DeviceCode, DeviceFlowError, OAuthError

ID_URL = "https://id.example.test/oauth2"


def form(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def test_authorize_url_carries_the_documented_parameters():
    url = oauth.authorize_url(ID_URL, "cid", "https://bot.example/cb", ["user:read:email", "bits:read"], "st4te")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ID_URL}/authorize"
    assert parse_qs(parts.query) == {"response_type": ["code"], "client_id": ["cid"],
                                     "redirect_uri": ["https://bot.example/cb"],
                                     "scope": ["user:read:email bits:read"], "state": ["st4te"]}
    assert "force_verify=true" in oauth.authorize_url(ID_URL, "cid", "https://b/cb", [], "s", force_verify=True)


@responses.activate
def test_exchange_code_posts_a_form_and_returns_the_grant():
    responses.post(f"{ID_URL}/token", json={"access_token": "at", "refresh_token": "rt", "expires_in": 3600,
                                            "scope": ["user:read:email"], "token_type": "bearer"})
    grant = oauth.exchange_code(ID_URL, "cid", "secret", "the-code", "https://bot.example/cb")
    assert (grant.access_token, grant.refresh_token, grant.expires_in, grant.scopes) == (
        "at", "rt", 3600, ("user:read:email",))
    call = responses.calls[0]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(call) == {"client_id": "cid", "client_secret": "secret", "code": "the-code",
                          "grant_type": "authorization_code", "redirect_uri": "https://bot.example/cb"}
    assert "at" not in repr(grant) and "rt" not in repr(grant)


@responses.activate
def test_refresh_url_encodes_the_refresh_token():
    responses.post(f"{ID_URL}/token", json={"access_token": "at2", "refresh_token": "rt2", "expires_in": 100})
    oauth.refresh(ID_URL, "cid", "secret", "a+b/c=")
    assert "refresh_token=a%2Bb%2Fc%3D" in responses.calls[0].request.body
    assert form(responses.calls[0])["grant_type"] == "refresh_token"


@responses.activate
def test_a_rejected_refresh_token_is_a_rejection_and_a_5xx_is_not():
    responses.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "Invalid refresh token"})
    with pytest.raises(OAuthError) as rejected:
        oauth.refresh(ID_URL, "cid", "secret", "old")
    assert rejected.value.rejected and rejected.value.reason == "Invalid refresh token"
    responses.replace(responses.POST, f"{ID_URL}/token", status=503, body="upstream down")
    with pytest.raises(OAuthError) as down:
        oauth.refresh(ID_URL, "cid", "secret", "old")
    assert down.value.status == 503 and not down.value.rejected


@responses.activate
def test_unreachable_twitch_is_an_error_without_status():
    responses.post(f"{ID_URL}/token", body=requests.ConnectionError("refused"))
    with pytest.raises(OAuthError) as err:
        oauth.exchange_code(ID_URL, "cid", "secret", "code", "https://b/cb")
    assert err.value.status is None and not err.value.rejected and "unreachable" in str(err.value)


@responses.activate
def test_validate_sends_the_oauth_header_and_reads_the_answer():
    responses.get(f"{ID_URL}/validate", json={"client_id": "cid", "login": "alice", "scopes": ["chat:read"],
                                              "user_id": "42", "expires_in": 5000})
    info = oauth.validate(ID_URL, "tok")
    assert responses.calls[0].request.headers["Authorization"] == "OAuth tok"
    assert (info.login, info.user_id, info.scopes, info.expires_in) == ("alice", "42", ("chat:read",), 5000)
    responses.replace(responses.GET, f"{ID_URL}/validate", status=401,
                      json={"status": 401, "message": "invalid access token"})
    with pytest.raises(OAuthError) as err:
        oauth.validate(ID_URL, "tok")
    assert err.value.status == 401


@responses.activate
def test_revoke_posts_client_id_and_token():
    responses.post(f"{ID_URL}/revoke", body="")
    oauth.revoke(ID_URL, "cid", "tok")
    assert form(responses.calls[0]) == {"client_id": "cid", "token": "tok"}


def device(expires_in: int = 1800, interval: int = 5) -> DeviceCode:
    return DeviceCode(device_code="dev-code", user_code="ABCDEFGH", verification_uri="https://www.twitch.tv/activate",
                      expires_in=expires_in, interval=interval)


@responses.activate
def test_device_flow_waits_through_pending_and_slow_down():
    responses.post(f"{ID_URL}/device", json={"device_code": "dev-code", "expires_in": 1800, "interval": 5,
                                             "user_code": "ABCDEFGH",
                                             "verification_uri": "https://www.twitch.tv/activate?device-code=ABCDEFGH"})
    started = oauth.start_device_flow(ID_URL, "cid", ["chat:read", "chat:edit"])
    assert form(responses.calls[0]) == {"client_id": "cid", "scopes": "chat:read chat:edit"}
    assert started.user_code == "ABCDEFGH" and "dev-code" not in repr(started)
    token_url = f"{ID_URL}/token"
    responses.post(token_url, status=400, json={"status": 400, "message": "authorization_pending"})
    responses.post(token_url, status=400, json={"status": 400, "message": "slow_down"})
    responses.post(token_url, status=400, json={"status": 400, "message": "authorization_pending"})
    responses.post(token_url, json={"access_token": "at", "refresh_token": "rt", "expires_in": 14000,
                                    "scope": ["chat:read", "chat:edit"]})
    slept = []
    grant = oauth.poll_device_flow(ID_URL, "cid", ["chat:read", "chat:edit"], started, sleep=slept.append)
    assert grant.access_token == "at"
    assert slept == [5, 5, 10, 10]  # slow_down adds 5 seconds to every later wait
    assert form(responses.calls[-1]) == {"client_id": "cid", "scopes": "chat:read chat:edit",
                                         "device_code": "dev-code",
                                         "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}


@responses.activate
@pytest.mark.parametrize("message", ["expired_token", "invalid device code"])
def test_device_flow_reports_an_expired_code(message):
    responses.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": message})
    with pytest.raises(DeviceFlowError) as err:
        oauth.poll_device_flow(ID_URL, "cid", ["chat:read"], device(), sleep=lambda seconds: None)
    assert err.value.reason == "expired"


@responses.activate
def test_device_flow_gives_up_when_the_code_lifetime_is_over():
    responses.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "authorization_pending"})
    slept = []
    with pytest.raises(DeviceFlowError) as err:
        oauth.poll_device_flow(ID_URL, "cid", ["chat:read"], device(expires_in=20, interval=5), sleep=slept.append)
    assert err.value.reason == "expired" and sum(slept) == 20 and len(responses.calls) == 4


@responses.activate
def test_device_flow_reports_a_refusal():
    responses.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "access_denied"})
    with pytest.raises(DeviceFlowError) as err:
        oauth.poll_device_flow(ID_URL, "cid", ["chat:read"], device(), sleep=lambda seconds: None)
    assert err.value.reason == "denied"
