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
def _account_fields() -> dict:
    """name and helix_methods, from the query or a JSON object body."""
    fields = {key: request.query[key] for key in ("name", "helix_methods") if key in request.query}
    if request.content_length:
        payload = _json_body()
        if not isinstance(payload, dict):
            raise json_error(422, 'body: a JSON object such as {"name": "my-service", "helix_methods": ["GET"]}',
                             field="body")
        fields = {**payload, **fields}
    if not isinstance(fields.get("name", ""), str):
        raise json_error(422, "name: a string", field="name")
    return fields


def _account_error(err: AccountError) -> Exception:
    field = str(err).split(":", 1)[0]
    return json_error(409 if isinstance(err, DuplicateName) else 422, str(err), field=field)


@action("v1/admin/service-accounts", method=["POST"])
@action.uses(db, admin)
def create_service_account():
    fields = _account_fields()
    try:
        account, secret = hub_accounts.create_account(db, fields.get("name"), fields.get("helix_methods"))
    except AccountError as err:
        raise _account_error(err) from None
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


@action("v1/admin/service-accounts/<client_id>/helix-methods", method=["PUT"])
@action.uses(db, admin)
def set_helix_methods(client_id: str):
    """Which HTTP methods the account may send through helix_proxy with the app token ([] for none)."""
    try:
        account = hub_accounts.set_helix_methods(db, client_id, _account_fields().get("helix_methods", []))
    except AccountError as err:
        raise _account_error(err) from None
    if account is None:
        raise json_error(404, f"no service account {client_id!r}: GET /twitch_webhooks/v1/admin/service-accounts "
                              "lists them")
    return account


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
    if request.content_length and not request.content_type.startswith("application/json"):
        raise json_error(415, "send the body with Content-Type: application/json", field="body")
    try:
        return json.loads(request.body.read(MAX_BODY) or b"null")
    except (ValueError, RecursionError) as err:
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
