"""/twitch_webhooks/v1/…: the event hub's HTTP API.

Admin (login cookie or X-Admin-Key): service accounts and the bot list. Services (X-Client-Id and
X-Client-Secret): their interests. Secrets are in a response once, when they are created."""

from __future__ import annotations

import json

from py4web import action, request, response

from apps.twitch_webhooks.hub import accounts as hub_accounts
from apps.twitch_webhooks.hub import interests as hub_interests
from apps.twitch_webhooks.hub.accounts import AccountError, DuplicateName
from apps.twitch_webhooks.hub.interests import DuplicateInterest, InvalidField
from apps.twitch_webhooks.hub.service import service_auth
from shared import tokens
from shared.fixtures import admin, db, is_admin, json_error

MAX_BODY = 65536
SECRET_NOTE = "store the secret now: it is not shown again (regenerate it if it is lost)"


# --- admin: service accounts and bots ----------------------------------------------------------------
def _account_name() -> str | None:
    name = request.query.get("name")
    if name is None and request.content_length:
        payload = _json_body()
        name = payload.get("name") if isinstance(payload, dict) else None
    return name


@action("v1/admin/service-accounts", method=["POST"])
@action.uses(db, admin)
def create_service_account():
    try:
        account, secret = hub_accounts.create_account(db, _account_name())
    except DuplicateName as err:
        raise json_error(409, str(err), field="name") from None
    except AccountError as err:
        raise json_error(422, str(err), field="name") from None
    response.status = 201
    return {**account, "client_secret": secret, "note": SECRET_NOTE}


@action("v1/admin/service-accounts", method=["GET"])
@action.uses(db, admin)
def list_service_accounts():
    return {"service_accounts": hub_accounts.list_accounts(db)}


@action("v1/admin/service-accounts/<client_id>/regenerate", method=["POST"])
@action.uses(db, admin)
def regenerate_secret(client_id: str):
    result = hub_accounts.regenerate(db, client_id)
    if result is None:
        raise json_error(404, f"no service account {client_id!r}: GET /twitch_webhooks/v1/admin/service-accounts "
                              "lists them")
    account, secret = result
    return {**account, "client_secret": secret, "note": SECRET_NOTE}


def _bot_view(bot: dict, default: str | None) -> dict:
    return {"id": bot["name"], "login": bot.get("login"), "user_id": bot.get("user_id"),
            "authenticated": bool(bot.get("valid") and not bot.get("needs_relogin")),
            "static": bool(bot.get("static")), "default": bot["name"] == default}


@action("v1/bots", method=["GET"])
@action.uses(db)
def list_bots():
    """The bot accounts an interest may name (bot_account_id = id); for admins and services."""
    caller = hub_accounts.authenticate(request.headers.get("X-Client-Id"), request.headers.get("X-Client-Secret"))
    if caller is None and not is_admin():
        raise json_error(401, "authentication required: an admin (log in or X-Admin-Key) or a service "
                              "(X-Client-Id and X-Client-Secret)")
    default = hub_interests.default_bot()
    return {"bots": [_bot_view(bot, default) for bot in tokens.list_bots()]}


# --- services: interests --------------------------------------------------------------------------------
def _json_body() -> object:
    if request.content_length > MAX_BODY:
        raise json_error(413, f"the body exceeds {MAX_BODY} bytes")
    try:
        return json.loads(request.body.read(MAX_BODY) or b"null")
    except ValueError as err:
        raise json_error(422, f"body: malformed JSON ({err})", field="body") from None


@action("v1/interests", method=["GET"])
@action.uses(db, service_auth)
def list_interests():
    return {"interests": hub_interests.list_interests(db, service_auth.account.id)}


@action("v1/interests", method=["POST"])
@action.uses(db, service_auth)
def create_interest():
    try:
        spec = hub_interests.parse_interest(_json_body())
        interest, secret = hub_interests.create_interest(db, service_auth.account.id, spec)
    except InvalidField as err:
        raise json_error(422, str(err), field=err.field) from None
    except DuplicateInterest as err:
        raise json_error(409, str(err), interest_id=err.interest_id) from None
    response.status = 201
    if secret is not None:
        interest.update(webhook_secret=secret, note="store the webhook_secret now: it signs every delivery "
                                                    "and is not shown again")
    return interest


@action("v1/interests/<interest_id>", method=["DELETE"])
@action.uses(db, service_auth)
def delete_interest(interest_id: str):
    if not hub_interests.delete_interest(db, service_auth.account.id, interest_id):
        raise json_error(404, f"this service has no interest {interest_id!r}")
    return {"deleted": interest_id}
