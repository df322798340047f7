"""The event hub for local services: service authentication of its routes, and the live state the
worker reports (EventSub WebSocket sessions, hub connections) for /health.

The parts: hub_accounts (service accounts), hub_interests (what services want), hub_subscriptions
(the Twitch subscriptions behind them), hub_transport (the EventSub WebSocket sessions),
hub_forwarder + hub_server + hub_webhooks (forwarding events to the services)."""

from __future__ import annotations

import datetime

from py4web import request
from py4web.core import Fixture

from apps.twitch_webhooks.hub.accounts import ServiceAccount, authenticate
from shared.adminauth import register_service_authenticator
from shared.db import get_db, transaction, utcnow
from shared.fixtures import json_error

STALE_AFTER = datetime.timedelta(seconds=90)  # a worker reports at least this often while it runs


class ServiceAuth(Fixture):
    """X-Client-Id + X-Client-Secret of a service account, else 401 JSON; `account` is the caller."""

    def on_request(self, context):
        account = authenticate(request.headers.get("X-Client-Id"), request.headers.get("X-Client-Secret"))
        if account is None:
            raise json_error(401, "service authentication required: send the X-Client-Id and X-Client-Secret of a "
                                  "service account (an admin creates one with POST "
                                  "/twitch_webhooks/v1/admin/service-accounts?name=…)")
        Fixture.local_initialize(self)
        self.local.account = account

    def on_success(self, context):
        Fixture.local_delete(self)

    def on_error(self, context):
        Fixture.local_delete(self)

    @property
    def account(self) -> ServiceAccount:
        return self.local.account


service_auth = ServiceAuth()


def authenticate_in_thread(client_id: str | None, secret: str | None) -> ServiceAccount | None:
    """authenticate() for a worker thread: it ends its read transaction."""
    db = get_db()
    try:
        return authenticate(client_id, secret, db)
    finally:
        db.rollback()


register_service_authenticator(authenticate_in_thread)


# --- live state, written by the worker, read by /health ---------------------------------------------
def report_session(bot_name: str, state: str, detail: str, session_id: str | None = None) -> None:
    """The state of the bot's EventSub WebSocket (a session id when one was welcomed)."""
    values = {"bot_name": bot_name, "state": state, "detail": detail[:512], "updated_at": utcnow()}
    if session_id is not None:
        values.update(session_id=session_id, connected_at=utcnow())
    with transaction(get_db()) as db:
        db.eventsub_ws_session.update_or_insert(db.eventsub_ws_session.bot_name == bot_name, **values)


def forget_session(bot_name: str) -> None:
    with transaction(get_db()) as db:
        db(db.eventsub_ws_session.bot_name == bot_name).delete()


def report_connections(worker_id: str, connections: int) -> None:
    with transaction(get_db()) as db:
        db.hub_server.update_or_insert(db.hub_server.worker_id == worker_id, worker_id=worker_id,
                                       connections=connections, updated_at=utcnow())


def forget_connections(worker_id: str) -> None:
    with transaction(get_db()) as db:
        db(db.hub_server.worker_id == worker_id).delete()


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value else None


def health_data(db=None) -> dict:
    """{eventsub_websocket: {bot: {state, session_id, detail, updated_at}}, subscriptions: {status:
    count}, hub_connections: n} — cheap (three small queries), for the module's health check."""
    db = db or get_db()
    fresh_after = utcnow() - STALE_AFTER
    sessions = {row.bot_name: {"state": row.state if row.updated_at >= fresh_after else "stale",
                               "session_id": row.session_id, "detail": row.detail,
                               "updated_at": _iso(row.updated_at)}
                for row in db(db.eventsub_ws_session).select(orderby=db.eventsub_ws_session.bot_name)}
    count = db.hub_subscription.id.count()
    subscriptions = {row.hub_subscription.status: row[count] for row in db(db.hub_subscription).select(
        db.hub_subscription.status, count, groupby=db.hub_subscription.status)}
    total = db.hub_server.connections.sum()
    connections = db(db.hub_server.updated_at >= fresh_after).select(total).first()[total] or 0
    return {"eventsub_websocket": sessions, "subscriptions": subscriptions, "hub_connections": int(connections)}
