"""Twitch mocked with `responses`: the id server hands out app tokens, Helix is whatever a test adds."""

from dataclasses import dataclass

import pytest
import responses

from shared.helix.client import get_helix_client
from tests.conftest import TEST_ENV

HELIX = "https://helix.test/helix"
ID = "https://id.test/oauth2"
CONFIGURED = {"TWITCH_APP_ID": "app-client-id", "TWITCH_APP_SECRET": "app-secret", "TWITCH_HELIX_URL": HELIX,
              "TWITCH_ID_URL": ID}


@dataclass
class Twitch:
    mock: responses.RequestsMock

    def add(self, method: str, path: str, **kwargs) -> None:
        self.mock.add(method, f"{HELIX}/{path}", **kwargs)

    def calls(self, path: str) -> list:
        """Requests Helix received on this path (query excluded from the match)."""
        return [call.request for call in self.mock.calls if call.request.url.split("?")[0] == f"{HELIX}/{path}"]


#: an authenticated proxy client: the app token is used for it
ADMIN = {"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]}


@pytest.fixture
def client(wsgi_app):
    """A WebTest client that authenticates as an admin (X-Admin-Key) on every request."""
    from webtest import TestApp

    return TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1", "HTTP_X_ADMIN_KEY": ADMIN["X-Admin-Key"]})


@pytest.fixture
def anonymous(wsgi_app):
    """A WebTest client that sends no credential."""
    from webtest import TestApp

    return TestApp(wsgi_app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})


@pytest.fixture
def twitch(configure):
    """The proxy configured against a mocked Twitch; the pipeline never really sleeps."""
    configure(**CONFIGURED)
    get_helix_client().sleep = lambda seconds: None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{ID}/token", json={"access_token": "app-token-1", "expires_in": 3600})
        yield Twitch(mock)
