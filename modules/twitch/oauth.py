"""Twitch OAuth endpoints (id.twitch.tv/oauth2): wire calls only, no storage."""

from __future__ import annotations

from dataclasses import dataclass

import requests


class OAuthError(Exception):
    """Twitch answered an OAuth call with an error. `status` is None when it was unreachable."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"TokenGrant(expires_in={self.expires_in}, scopes={self.scopes})"


def _post_form(url: str, data: dict, timeout: float) -> dict:
    try:
        response = requests.post(url, data=data, timeout=timeout)
    except requests.RequestException as err:
        raise OAuthError(f"Twitch unreachable ({err.__class__.__name__})") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not response.ok:
        message = payload.get("message") or response.text[:200] or response.reason
        raise OAuthError(f"Twitch answered {response.status_code}: {message}", response.status_code)
    return payload


def grant(payload: dict) -> TokenGrant:
    return TokenGrant(access_token=payload["access_token"], expires_in=int(payload.get("expires_in", 0)),
                      refresh_token=payload.get("refresh_token"), scopes=tuple(payload.get("scope") or ()))


def client_credentials(id_url: str, client_id: str, client_secret: str, timeout: float = 10) -> TokenGrant:
    """An app access token (client credentials grant)."""
    return grant(_post_form(f"{id_url}/token", {"client_id": client_id, "client_secret": client_secret,
                                                 "grant_type": "client_credentials"}, timeout))
