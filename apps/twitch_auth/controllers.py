"""twitch_auth routes: the browser login (login → Twitch → callback), account status, and the
admin API (refresh, revoke, users)."""

from __future__ import annotations

import contextlib
import json
import re

from py4web import action, request, response
from py4web.core import redirect

from modules.twitch import oauth
from modules.twitch.oauth import OAuthError
from shared import tokens
from shared.adminauth import safe_next
from shared.crypto import TokenError, verify_token
from shared.fixtures import Page, admin, db, json_error, session, wants_html
from shared.registry import NeedsReauth, NotConfigured, NotReady
from shared.settings import Settings, get_settings

from . import login_state
from .activation import queue_activation

SCOPE = re.compile(r"^[a-z0-9_.:\-]{1,100}$")
USER_ID = re.compile(r"^[0-9]{1,20}$")
START_AGAIN = ("/twitch_auth/login", "Start again")


def _page(status: int, title: str, message: str, link: tuple[str, str] | None = START_AGAIN,
          account: dict | None = None) -> dict:
    response.status = status
    return {"title": title, "message": message, "link": link, "account": account}


def redirect_uri(settings: Settings) -> str:
    """The OAuth redirect URI registered with Twitch: TWITCH_REDIRECT_URI, else this app's callback."""
    return settings.twitch_redirect_uri or f"{settings.public_url}/twitch_auth/callback"


def _scopes(value: str) -> list[str]:
    scopes = sorted(set(value.replace("+", " ").split()))
    bad = [scope for scope in scopes if not SCOPE.match(scope)]
    if bad:
        raise ValueError(f"scopes: {bad[0]!r} is not a Twitch scope (e.g. user:read:email)")
    return scopes


def _bot_name(link_token: str | None) -> str | None:
    if not link_token:
        return None
    try:
        return verify_token(link_token, login_state.BOT_LINK_PURPOSE)["sub"]
    except TokenError:
        raise ValueError("this bot login link is invalid or older than 10 minutes: "
                         "run `waddlebot bots add NAME --browser` again") from None


def _not_configured() -> dict | None:
    settings = get_settings()
    if settings.twitch_app_id and settings.twitch_app_secret:
        return None
    return _page(503, "Twitch login is not configured", "Set TWITCH_APP_ID and TWITCH_APP_SECRET, then try again.",
                 link=None)


@action("login", method=["GET"])
@action.uses(Page("page.html"), db, session)
def login():
    """Send the browser to Twitch to grant the scopes (?scopes=a+b, ?next=/path, ?bot=link)."""
    if problem := _not_configured():
        return problem
    settings = get_settings()
    try:
        bot_name = _bot_name(request.query.get("bot"))
        scopes = list(tokens.BOT_SCOPES) if bot_name else _scopes(
            request.query.get("scopes") or settings.twitch_default_scopes)
    except ValueError as err:
        return _page(400, "Cannot start the Twitch login", str(err), link=None)
    state = login_state.begin(db, session, scopes, safe_next(request.query.get("next")), bot_name)
    # a bot is authorized by whoever is logged in to Twitch: make Twitch show which account that is
    redirect(oauth.authorize_url(settings.twitch_id_url, settings.twitch_app_id, redirect_uri(settings), scopes,
                                 state, force_verify=bool(bot_name)))


def _twitch_error(error: str, description: str | None, state: str | None) -> dict:
    with contextlib.suppress(login_state.StateError):
        login_state.consume(db, session, state)  # the login is over either way
    if error == "access_denied":
        return _page(200, "No access granted",
                     "You chose not to connect your Twitch account, so nothing was stored. "
                     "You can connect it whenever you like.", link=("/twitch_auth/login", "Connect with Twitch"))
    return _page(400, "Twitch reported a problem", f"{error}: {description or 'no details'}. Nothing was stored.")


def _store(pending: login_state.PendingLogin, grant: oauth.TokenGrant, info: oauth.TokenInfo) -> dict:
    if pending.bot_name:
        tokens.store_bot_token(db, pending.bot_name, grant, info)
    else:
        tokens.store_user_token(db, grant, info)
        queue_activation(db, info.user_id, info.login)
    return {"login": info.login, "user_id": info.user_id, "bot": pending.bot_name, "scopes": list(info.scopes)}


@action("callback", method=["GET"])
@action.uses(Page("page.html"), db, session)
def callback():
    """Where Twitch sends the browser back: check the state, exchange the code, store the token."""
    query = request.query
    if query.get("error"):
        return _twitch_error(query.get("error"), query.get("error_description"), query.get("state"))
    try:
        pending = login_state.consume(db, session, query.get("state"))
    except login_state.StateError as err:
        return _page(400, "This Twitch login cannot be completed", f"{str(err).capitalize()}. Nothing was stored.")
    if not query.get("code"):
        return _page(400, "This Twitch login cannot be completed", "Twitch sent no code. Nothing was stored.")
    if problem := _not_configured():
        return problem
    settings = get_settings()
    try:
        grant = oauth.exchange_code(settings.twitch_id_url, settings.twitch_app_id, settings.twitch_app_secret,
                                    query.get("code"), redirect_uri(settings), settings.helix_timeout_s)
    except OAuthError as err:
        if err.rejected:
            return _page(400, "Twitch refused the login",
                         f"Twitch did not accept the authorization code ({err.reason or err}). Nothing was stored.")
        return _page(502, "Twitch is not answering", f"{err}. Nothing was stored; try again in a moment.")
    try:
        info = oauth.validate(settings.twitch_id_url, grant.access_token, settings.helix_timeout_s)
    except OAuthError as err:
        return _page(502, "Twitch is not answering", f"Validating the new token failed: {err}. Nothing was stored.")
    account = _store(pending, grant, info)
    return _page(200, "Connected to Twitch", "WaddleBot may now act for this account with these scopes.",
                 link=(pending.next_url, "Continue"), account=account)


def _user_id(value: str | None) -> str:
    if not value:
        raise json_error(400, "user_id is required: the numeric Twitch user id", field="user_id")
    if not USER_ID.match(value):
        raise json_error(400, f"user_id must be a numeric Twitch user id, not {value!r}", field="user_id")
    return value


@contextlib.contextmanager
def _token_errors(user_id: str):
    """The token service's typed failures as JSON errors."""
    try:
        yield
    except tokens.UnknownAccount:
        raise json_error(404, f"no stored Twitch token for user_id {user_id}: the user must log in at "
                              "/twitch_auth/login") from None
    except NeedsReauth as err:
        raise json_error(409, str(err)) from None
    except NotReady as err:
        raise json_error(502, str(err)) from None
    except NotConfigured as err:
        raise json_error(503, str(err)) from None


@action("status", method=["GET"])
@action.uses(db, admin)
def status():
    """?user_id= → whether the user has a working token, its scopes and expiry (never the token)."""
    user_id = _user_id(request.query.get("user_id"))
    with _token_errors(user_id):
        return tokens.user_status(user_id)


@action("refresh/<user_id>", method=["POST"])
@action.uses(db, admin)
def refresh(user_id):
    user_id = _user_id(user_id)
    with _token_errors(user_id):
        tokens.report_unauthorized(user_id)
        return tokens.user_status(user_id)


@action("revoke/<user_id>", method=["POST"])
@action.uses(db, admin)
def revoke(user_id):
    """Revoke the token at Twitch, then forget it."""
    user_id = _user_id(user_id)
    with _token_errors(user_id):
        login = tokens.user_status(user_id)["login"]
        tokens.revoke_user(db, user_id)
    return {"revoked": True, "user_id": user_id, "login": login}


@action("users", method=["GET"])
@action.uses(Page("users.html"), db, admin)
def users():
    """The authorized accounts and bot accounts: a page for browsers, JSON otherwise."""
    accounts = {"users": tokens.list_users(), "bots": tokens.list_bots()}
    if wants_html():
        return {"title": "Twitch accounts", **accounts}
    response.headers["Content-Type"] = "application/json"
    return json.dumps(accounts)
