"""A fake of Twitch's OAuth server (id.twitch.tv/oauth2): an authorize page where you pick a fake
user and grant scopes, /token (authorization code, refresh, client credentials, device code),
/validate, /revoke and /device, with the bodies and status codes
https://dev.twitch.tv/docs/authentication documents."""

from __future__ import annotations

import html
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from modules.sandbox.web import Request, Response, Router, empty, html_response, json_response, redirect
from modules.sandbox.world import TwitchUser, default_users

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_TOKEN_SECONDS = 14400
APP_TOKEN_SECONDS = 5011271


@dataclass
class Token:
    access: str
    user_id: str | None  # None: an app access token
    scopes: tuple[str, ...]
    expires_at: float
    refresh: str | None = None


@dataclass
class DeviceGrant:
    device_code: str
    user_code: str
    scopes: tuple[str, ...]
    expires_at: float
    user_id: str | None = None
    denied: bool = False


def _error(status: int, message: str) -> Response:
    """The id server's error body: {"status": …, "message": …}."""
    return json_response({"status": status, "message": message}, status)


@dataclass
class FakeTwitchId:
    """State: users, issued tokens, pending codes and device grants. `base_url` is where the fake
    is reached (for verification_uri and the authorize form); `clock` gives Unix seconds."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    users: dict[str, TwitchUser] = field(default_factory=lambda: {user.id: user for user in default_users()})
    base_url: str = "http://127.0.0.1/oauth2"
    clock: Callable[[], float] = time.time
    user_token_seconds: int = USER_TOKEN_SECONDS
    tokens: dict[str, Token] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) received
    _codes: dict[str, tuple[str, tuple[str, ...], str]] = field(default_factory=dict)
    _devices: dict[str, DeviceGrant] = field(default_factory=dict)
    _numbers: Iterable[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.router = Router()
        for method, path, handler in (
                ("GET", "/oauth2/authorize", self._authorize_page), ("POST", "/oauth2/authorize", self._authorize),
                ("POST", "/oauth2/token", self._token), ("GET", "/oauth2/validate", self._validate),
                ("POST", "/oauth2/revoke", self._revoke), ("POST", "/oauth2/device", self._device),
                ("GET", "/oauth2/activate", self._activate_page), ("POST", "/oauth2/activate", self._activate)):
            self.router.add(method, path, handler)

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.calls.append((request.method, request.path))
            return self.router.dispatch(request, lambda r: _error(404, f"no such endpoint {r.path}"))

    # --- tokens ---------------------------------------------------------------------------
    def issue(self, user_id: str | None, scopes: Iterable[str] = (), seconds: int | None = None) -> Token:
        """A token as Twitch would grant it (a user token has a refresh token)."""
        number = next(self._numbers)
        lifetime = seconds if seconds is not None else (self.user_token_seconds if user_id else APP_TOKEN_SECONDS)
        token = Token(f"sbx-access-{number:04d}-{secrets.token_hex(6)}", user_id, tuple(scopes),
                      self.clock() + lifetime, f"sbx-refresh-{number:04d}-{secrets.token_hex(8)}" if user_id else None)
        self.tokens[token.access] = token
        return token

    def token_of(self, access: str) -> Token | None:
        """The live token with this access value, or None (unknown, revoked or expired)."""
        token = self.tokens.get(access)
        return token if token and token.expires_at > self.clock() else None

    def _grant_body(self, token: Token) -> dict:
        body = {"access_token": token.access, "expires_in": int(token.expires_at - self.clock()),
                "token_type": "bearer"}
        if token.user_id:
            body.update(refresh_token=token.refresh, scope=list(token.scopes))
        return body

    def _token(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != self.client_id:
            return _error(400, "invalid client")
        grant = form.get("grant_type")
        if grant == DEVICE_GRANT:
            return self._device_token(form)
        if form.get("client_secret") != self.client_secret:
            return _error(403, "invalid client secret")
        if grant == "client_credentials":
            return json_response(self._grant_body(self.issue(None)))
        if grant == "authorization_code":
            entry = self._codes.pop(form.get("code", ""), None)
            if entry is None or entry[2] != form.get("redirect_uri"):
                return _error(400, "Invalid authorization code")
            return json_response(self._grant_body(self.issue(entry[0], entry[1])))
        if grant == "refresh_token":
            old = next((token for token in self.tokens.values() if token.refresh == form.get("refresh_token")), None)
            if old is None:
                return _error(400, "Invalid refresh token")
            self.tokens.pop(old.access, None)
            return json_response(self._grant_body(self.issue(old.user_id, old.scopes)))
        return _error(400, "missing or unsupported grant_type")

    def _validate(self, request: Request) -> Response:
        header = request.header("Authorization")
        if not header.startswith("OAuth "):
            return _error(401, "missing authorization token")
        token = self.token_of(header.removeprefix("OAuth ").strip())
        if token is None:
            return _error(401, "invalid access token")
        body = {"client_id": self.client_id, "scopes": list(token.scopes),
                "expires_in": int(token.expires_at - self.clock())}
        if token.user_id:
            body.update(login=self.users[token.user_id].login, user_id=token.user_id)
        return json_response(body)

    def _revoke(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != self.client_id:
            return _error(404, "client does not exist")
        if self.tokens.pop(form.get("token", ""), None) is None:
            return _error(400, "Invalid token")
        return empty(200)

    # --- the authorization code grant: the page a person sees ---------------------------------
    def _authorize_page(self, request: Request) -> Response:
        params = {name: request.arg(name) for name in ("client_id", "redirect_uri", "response_type", "scope",
                                                         "state", "force_verify")}
        if params["client_id"] != self.client_id:
            return _error(400, "invalid client")
        if params["response_type"] != "code" or not params["redirect_uri"]:
            return _error(400, "response_type=code and redirect_uri are required")
        return html_response(authorize_html(params, list(self.users.values())))

    def _authorize(self, request: Request) -> Response:
        fields = request.form_lists()
        form = {name: values[0] for name, values in fields.items()}
        if form.get("client_id") != self.client_id or not form.get("redirect_uri"):
            return _error(400, "invalid client or redirect_uri")
        back = form["redirect_uri"]
        if form.get("decision") != "authorize":
            answer = {"error": "access_denied", "error_description": "The user denied you access",
                      "state": form.get("state", "")}
            return redirect(f"{back}?{urlencode(answer)}")
        user = self.users.get(form.get("user_id", ""))
        if user is None:
            return _error(400, "pick a user")
        scopes = tuple(fields.get("granted", []))
        code = secrets.token_urlsafe(16)
        self._codes[code] = (user.id, scopes, back)
        answer = {"code": code, "scope": " ".join(scopes), "state": form.get("state", "")}
        return redirect(f"{back}?{urlencode(answer)}")

    # --- the device code grant ----------------------------------------------------------------
    def _device(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != self.client_id:
            return _error(400, "invalid client")
        grant = DeviceGrant(secrets.token_urlsafe(24), secrets.token_hex(4).upper(),
                            tuple(form.get("scopes", "").split()), self.clock() + 1800)
        self._devices[grant.device_code] = grant
        return json_response({"device_code": grant.device_code, "expires_in": 1800, "interval": 5,
                              "user_code": grant.user_code,
                              "verification_uri": f"{self.base_url}/activate?device-code={grant.user_code}"})

    def _device_token(self, form: dict) -> Response:
        grant = self._devices.get(form.get("device_code", ""))
        if grant is None or grant.expires_at <= self.clock():
            return _error(400, "invalid device code")
        if grant.denied:
            return _error(400, "access_denied")
        if grant.user_id is None:
            return _error(400, "authorization_pending")
        del self._devices[grant.device_code]
        return json_response(self._grant_body(self.issue(grant.user_id, grant.scopes)))

    def approve_device(self, user_code: str, user_id: str) -> bool:
        """What a person does on the activate page: grant the device code to this user."""
        grant = next((item for item in self._devices.values() if item.user_code == user_code), None)
        if grant is None or user_id not in self.users:
            return False
        grant.user_id = user_id
        return True

    def _activate_page(self, request: Request) -> Response:
        code = html.escape(request.arg("device-code"))
        options = "".join(f'<option value="{user.id}">{html.escape(user.login)}</option>'
                          for user in self.users.values())
        return html_response(f"{_HEAD}<h1>Activate a device</h1><form method=post action='activate'>"
                             f"<label>Code <input name=user_code value='{code}'></label> "
                             f"<label>Account <select name=user_id>{options}</select></label> "
                             f"<button>Activate</button></form>")

    def _activate(self, request: Request) -> Response:
        form = request.form()
        if not self.approve_device(form.get("user_code", ""), form.get("user_id", "")):
            return html_response(f"{_HEAD}<h1>Unknown code</h1>", 400)
        return html_response(f"{_HEAD}<h1>Device activated</h1><p>Return to your device.</p>")


_HEAD = ("<!doctype html><meta charset=utf-8><title>Twitch (sandbox)</title>"
         "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
         ".banner{background:#9146ff;color:#fff;padding:.4em .8em;border-radius:4px}</style>"
         "<p class=banner>Sandbox Twitch: no real account is used</p>")


def authorize_html(params: dict[str, str], users: list[TwitchUser]) -> str:
    """The consent page: pick a fake user, untick scopes you do not want to grant."""
    hidden = "".join(f'<input type=hidden name="{name}" value="{html.escape(value)}">'
                     for name, value in params.items() if value)
    people = "".join(f'<label><input type=radio name=user_id value="{user.id}"{" checked" if index == 0 else ""}> '
                     f'{html.escape(user.display_name)} <small>({html.escape(user.login)}, id {user.id})</small>'
                     f'</label><br>' for index, user in enumerate(users))
    scopes = "".join(f'<label><input type=checkbox name=granted value="{html.escape(scope)}" checked> '
                     f'<code>{html.escape(scope)}</code></label><br>' for scope in params["scope"].split())
    return (f"{_HEAD}<h1>Authorize the application</h1><form method=post action=authorize>{hidden}"
            f"<fieldset><legend>Log in as</legend>{people}</fieldset>"
            f"<fieldset><legend>Permissions</legend>{scopes or '<p>none asked</p>'}</fieldset>"
            f"<button name=decision value=authorize id=authorize>Authorize</button> "
            f"<button name=decision value=cancel id=cancel>Cancel</button></form>")
