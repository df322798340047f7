"""The token service the apps use: app tokens (client credentials), cached and renewed."""

from __future__ import annotations

import threading
import time

from modules.twitch.oauth import client_credentials
from shared.registry import NotConfigured
from shared.settings import get_settings

APP_TOKEN_MARGIN = 300  # renew an app token this many seconds before it expires


class _AppTokenCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.token: str | None = None
        self.expires_at = 0.0
        self.client_id: str | None = None


_app = _AppTokenCache()


def get_app_token(force_refresh: bool = False) -> str:
    """A valid app access token; renewed before expiry, or now when force_refresh (after a 401)."""
    settings = get_settings()
    if not (settings.twitch_app_id and settings.twitch_app_secret):
        raise NotConfigured("set TWITCH_APP_ID and TWITCH_APP_SECRET")
    with _app.lock:
        fresh = _app.token and _app.client_id == settings.twitch_app_id and \
            time.time() < _app.expires_at - APP_TOKEN_MARGIN
        if force_refresh or not fresh:
            granted = client_credentials(settings.twitch_id_url, settings.twitch_app_id,
                                         settings.twitch_app_secret, settings.helix_timeout_s)
            _app.token, _app.client_id = granted.access_token, settings.twitch_app_id
            _app.expires_at = time.time() + granted.expires_in
        return _app.token


def forget_app_token() -> None:
    """Drop the cached app token (settings changed)."""
    with _app.lock:
        _app.token, _app.expires_at = None, 0.0
