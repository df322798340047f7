"""Twitch OAuth endpoints (id.twitch.tv/oauth2): wire calls only, no storage.

Authorization code grant (authorize URL, code exchange), refresh, validation, revocation, client
credentials and the device code grant, as https://dev.twitch.tv/docs/authentication documents them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # seconds added to the polling interval after slow_down (RFC 8628 §3.5)


class OAuthError(Exception):
    """Twitch answered an OAuth call with an error. `status` is None when it was unreachable;
    `reason` is Twitch's own message (e.g. "Invalid refresh token", "authorization_pending")."""

    def __init__(self, message: str, status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason

    @property
    def rejected(self) -> bool:
        """Twitch refused the request itself; retrying the same request cannot help (unlike
        429, 5xx or no answer at all)."""
        return self.status in (400, 401, 403)


class DeviceFlowError(OAuthError):
    """The device code grant ended without a token: `reason` is "expired" or "denied"."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"TokenGrant(expires_in={self.expires_in}, scopes={self.scopes})"


@dataclass(frozen=True)
class TokenInfo:
    """What /validate says about a token."""

    client_id: str
    login: str | None
    user_id: str | None
    scopes: tuple[str, ...]
    expires_in: int


@dataclass(frozen=True)
class DeviceCode:
    """The answer of /device: show `verification_uri` and `user_code` to the person."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


def _payload(response: requests.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _call(method: str, url: str, timeout: float, **kwargs) -> dict:
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as err:
        raise OAuthError(f"Twitch unreachable ({err.__class__.__name__})") from None
    payload = _payload(response)
    if not response.ok:
        reason = str(payload.get("message") or payload.get("error") or "")
        message = reason or response.text[:200] or response.reason
        raise OAuthError(f"Twitch answered {response.status_code}: {message}", response.status_code, reason)
    return payload


def _post_form(url: str, data: dict, timeout: float) -> dict:
    return _call("POST", url, timeout, data=data)


def grant(payload: dict) -> TokenGrant:
    return TokenGrant(access_token=payload["access_token"], expires_in=int(payload.get("expires_in", 0)),
                      refresh_token=payload.get("refresh_token"), scopes=tuple(payload.get("scope") or ()))


def client_credentials(id_url: str, client_id: str, client_secret: str, timeout: float = 10) -> TokenGrant:
    """An app access token (client credentials grant)."""
    return grant(_post_form(f"{id_url}/token", {"client_id": client_id, "client_secret": client_secret,
                                                 "grant_type": "client_credentials"}, timeout))


def authorize_url(id_url: str, client_id: str, redirect_uri: str, scopes: Iterable[str], state: str,
                  force_verify: bool = False) -> str:
    """Where to send the browser to ask the person for the scopes (authorization code grant)."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": " ".join(scopes), "state": state}
    if force_verify:
        params["force_verify"] = "true"
    return f"{id_url}/authorize?{urlencode(params)}"


def exchange_code(id_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str,
                  timeout: float = 10) -> TokenGrant:
    """The user token for the code Twitch returned to the redirect URI."""
    return grant(_post_form(f"{id_url}/token", {
        "client_id": client_id, "client_secret": client_secret, "code": code,
        "grant_type": "authorization_code", "redirect_uri": redirect_uri}, timeout))


def refresh(id_url: str, client_id: str, client_secret: str, refresh_token: str,
            timeout: float = 10) -> TokenGrant:
    """A new access token and the rotated refresh token; a rejected refresh token raises
    OAuthError with status 400 or 401."""
    return grant(_post_form(f"{id_url}/token", {
        "client_id": client_id, "client_secret": client_secret, "grant_type": "refresh_token",
        "refresh_token": refresh_token}, timeout))


def validate(id_url: str, access_token: str, timeout: float = 10) -> TokenInfo:
    """What the token is (user, scopes, lifetime); OAuthError with status 401 when it is invalid."""
    payload = _call("GET", f"{id_url}/validate", timeout, headers={"Authorization": f"OAuth {access_token}"})
    return TokenInfo(client_id=payload.get("client_id", ""), login=payload.get("login"),
                     user_id=payload.get("user_id"), scopes=tuple(payload.get("scopes") or ()),
                     expires_in=int(payload.get("expires_in") or 0))


def revoke(id_url: str, client_id: str, token: str, timeout: float = 10) -> None:
    """Revoke an access token at Twitch. A token Twitch no longer knows raises OAuthError 400."""
    _post_form(f"{id_url}/revoke", {"client_id": client_id, "token": token}, timeout)


def start_device_flow(id_url: str, client_id: str, scopes: Iterable[str], timeout: float = 10) -> DeviceCode:
    """Start the device code grant: the person enters `user_code` at `verification_uri`."""
    payload = _post_form(f"{id_url}/device", {"client_id": client_id, "scopes": " ".join(scopes)}, timeout)
    return DeviceCode(device_code=payload["device_code"], user_code=payload["user_code"],
                      verification_uri=payload["verification_uri"], expires_in=int(payload["expires_in"]),
                      interval=int(payload.get("interval") or 5))


def poll_device_flow(id_url: str, client_id: str, scopes: Iterable[str], device: DeviceCode,
                     timeout: float = 10, sleep: Callable[[float], None] = time.sleep) -> TokenGrant:
    """Poll /token every `interval` seconds until the person grants access.

    Honours slow_down (the interval grows by 5 seconds); raises DeviceFlowError("expired") when
    the code expires and DeviceFlowError("denied") when the person refuses."""
    data = {"client_id": client_id, "scopes": " ".join(scopes), "device_code": device.device_code,
            "grant_type": DEVICE_GRANT_TYPE}
    interval, waited = device.interval, 0.0
    while True:
        sleep(interval)
        waited += interval
        try:
            return grant(_post_form(f"{id_url}/token", data, timeout))
        except OAuthError as err:
            reason = err.reason.lower()
            if err.status != 400:
                raise
            if "authorization_pending" in reason:
                pass
            elif "slow_down" in reason:
                interval += SLOW_DOWN_STEP
            elif "expired" in reason or "invalid device code" in reason:
                raise DeviceFlowError("the device code expired before access was granted", 400, "expired") from None
            elif "denied" in reason:
                raise DeviceFlowError("access was denied on Twitch", 400, "denied") from None
            else:
                raise
        if waited >= device.expires_in:
            raise DeviceFlowError("the device code expired before access was granted", None, "expired")
