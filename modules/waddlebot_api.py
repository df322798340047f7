"""Clients of the external WaddleBot APIs: context (identity lookup), reputation (activities)
and gateway (activation). Framework-free; every call has a timeout."""

from __future__ import annotations

from dataclasses import dataclass

import requests


class ApiError(Exception):
    """A call failed. `retryable` says whether trying again later can help."""

    def __init__(self, message: str, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def _raise_for(response: requests.Response, what: str) -> None:
    if response.ok:
        return
    retryable = response.status_code in (408, 425, 429) or response.status_code >= 500
    raise ApiError(f"{what} answered {response.status_code}: {response.text[:200]}", retryable,
                   response.status_code)


@dataclass
class ApiClient:
    url: str
    api_key: str = ""
    timeout: float = 5.0
    session: requests.Session | None = None

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {"User-Agent": "WaddleBot"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def post(self, body: dict, idempotency_key: str | None = None, what: str = "API") -> requests.Response:
        http = self.session or requests
        try:
            response = http.post(self.url, json=body, headers=self._headers(idempotency_key),
                                 timeout=self.timeout)
        except requests.RequestException as err:
            raise ApiError(f"{what} unreachable: {err.__class__.__name__}", retryable=True) from None
        _raise_for(response, what)
        return response


class ContextClient(ApiClient):
    def identity(self, platform: str, user_id: str, login: str | None) -> dict:
        """→ {identity_id, namespace} for a platform user."""
        body = {"platform": platform, "platform_user_id": user_id, "username": login}
        data = self.post(body, what="context API").json()
        return {"identity_id": data.get("identity_id"), "namespace": data.get("namespace")}


class ReputationClient(ApiClient):
    def report(self, activity: dict, idempotency_key: str) -> None:
        self.post(activity, idempotency_key=idempotency_key, what="reputation API")


class GatewayClient(ApiClient):
    def activate(self, platform: str, user_id: str, login: str) -> None:
        body = {"platform": platform, "platform_user_id": user_id, "username": login}
        self.post(body, idempotency_key=f"activate:{platform}:{user_id}", what="gateway API")
