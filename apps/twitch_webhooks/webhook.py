"""POST /twitch_webhooks/webhook: the EventSub webhook receiver, as Twitch documents it.

Order matters: size, then the signature over the raw bytes (the subscription's secret, else
TWITCH_WEBHOOK_SECRET), then the replay window; only then is anything written. A notification
is answered 2xx only after its event, activity and outbox rows are committed."""

from __future__ import annotations

import json
import logging

from prometheus_client import Counter
from py4web import action, request, response

from apps.twitch_webhooks.eventsub import store as eventsub
from modules.twitch import eventsub as wire
from shared.db import DATABASE_ERRORS, GroupCommit, database_unavailable, rollback
from shared.fixtures import db, json_error
from shared.settings import get_settings

log = logging.getLogger(__name__)
MESSAGES = Counter("waddlebot_eventsub_webhook_messages_total", "EventSub webhook messages received",
                   ["message_type", "result"])
MAX_MESSAGE_ID = 100  # Twitch's ids are UUIDs; batched items get ":<index>" appended in a 128-character column


def _kind(message_type: str | None) -> str:
    """The message type as a metric label (never an arbitrary header value)."""
    return message_type if message_type in wire.MESSAGE_TYPES else "unknown"


def _refuse(status: int, message_type: str | None, reason: str, message: str):
    MESSAGES.labels(_kind(message_type), reason).inc()
    return json_error(status, message)


def _raw_body(limit: int) -> bytes:
    """The body exactly as received (the signature covers these bytes), at most `limit` bytes."""
    if request.content_length > limit:
        raise _refuse(413, "unknown", "too_large", f"the body exceeds WEBHOOK_MAX_BODY_BYTES ({limit} bytes)")
    data = request.body.read(limit + 1)
    if len(data) > limit:
        raise _refuse(413, "unknown", "too_large", f"the body exceeds WEBHOOK_MAX_BODY_BYTES ({limit} bytes)")
    return data


def _parse(body: bytes) -> dict | None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    return payload if isinstance(payload, dict) else None


def _authenticate(body: bytes, payload: dict | None) -> str:
    """Check the signature and the replay window; returns the message id."""
    headers = request.headers
    message_type = headers.get(wire.MESSAGE_TYPE)
    message_id, timestamp = headers.get(wire.MESSAGE_ID), headers.get(wire.MESSAGE_TIMESTAMP)
    signature = headers.get(wire.MESSAGE_SIGNATURE)
    if not (message_id and timestamp and signature):
        raise _refuse(403, message_type, "unsigned", f"{wire.MESSAGE_ID}, {wire.MESSAGE_TIMESTAMP} and "
                      f"{wire.MESSAGE_SIGNATURE} are required")
    secrets = eventsub.signing_secrets(db, (payload or {}).get("subscription"),
                                       pending=message_type == wire.VERIFICATION)
    if not any(wire.verify_signature(secret, message_id, timestamp, body, signature) for secret in secrets):
        log.info("EventSub webhook message %.100s refused: bad signature", message_id)
        raise _refuse(403, message_type, "bad_signature", "the signature does not match this body")
    moment = wire.parse_timestamp(timestamp)
    if moment is None:
        raise _refuse(403, message_type, "bad_timestamp", f"{wire.MESSAGE_TIMESTAMP} is not an RFC 3339 time")
    max_age = get_settings().eventsub_max_age_seconds
    if not wire.is_fresh(moment, max_age):
        raise _refuse(403, message_type, "stale", f"{wire.MESSAGE_TIMESTAMP} is more than {max_age} seconds away "
                      "from now: a replayed or delayed message")
    if len(message_id) > MAX_MESSAGE_ID:
        raise _refuse(400, message_type, "bad_request", f"{wire.MESSAGE_ID} is longer than {MAX_MESSAGE_ID}")
    return message_id


NOTIFICATIONS = GroupCommit(eventsub.store_notifications)


def _store(message_type: str, write) -> object:
    """Run `write` and commit; a database failure answers 503 so that Twitch retries."""
    try:
        result = write()
        db.commit()
    except Exception as err:
        raise _unavailable(message_type, err) from None
    return result


def _unavailable(message_type: str, err: Exception):
    """Roll back (dropping a broken connection) and answer 503 with Retry-After: Twitch retries."""
    rollback(db)
    if isinstance(err, DATABASE_ERRORS):
        log.warning("could not store an EventSub %s message: %s: %s", message_type, err.__class__.__name__, err)
    else:
        log.exception("could not store an EventSub %s message", message_type)
    MESSAGES.labels(_kind(message_type), "error").inc()
    return database_unavailable("the message could not be stored; Twitch will send it again")


def _notification(message_id: str, payload: dict) -> dict:
    subscription, event, events = payload.get("subscription"), payload.get("event"), payload.get("events")
    if not isinstance(subscription, dict) or not subscription.get("type"):
        raise _refuse(400, wire.NOTIFICATION, "bad_request", "the body has no subscription object with a type")
    if isinstance(event, dict):
        items = [eventsub.Incoming(message_id, subscription, event, "webhook")]
    elif isinstance(events, list) and all(isinstance(item, dict) for item in events):
        items = eventsub.batch_items(message_id=message_id, subscription=subscription, events=events,
                                     transport="webhook")
    else:
        raise _refuse(400, wire.NOTIFICATION, "bad_request", "the body has neither an event object nor an events list")
    new = _store(wire.NOTIFICATION, lambda: NOTIFICATIONS.submit(db, items))
    MESSAGES.labels(wire.NOTIFICATION, "stored" if new else "duplicate").inc()
    return {"status": "stored" if new else "duplicate", "message_id": message_id}


def _verification(payload: dict) -> str:
    challenge, subscription = payload.get("challenge"), payload.get("subscription")
    if not isinstance(challenge, str) or not isinstance(subscription, dict) or not subscription.get("id"):
        raise _refuse(400, wire.VERIFICATION, "bad_request", "the body needs a challenge and a subscription")
    _store(wire.VERIFICATION, lambda: eventsub.mark_enabled(db, subscription))
    MESSAGES.labels(wire.VERIFICATION, "enabled").inc()
    response.headers["Content-Type"] = "text/plain"
    return challenge


def _revocation(payload: dict) -> dict:
    subscription = payload.get("subscription")
    if not isinstance(subscription, dict) or not subscription.get("id"):
        raise _refuse(400, wire.REVOCATION, "bad_request", "the body has no subscription object")
    _store(wire.REVOCATION, lambda: eventsub.mark_revoked(db, subscription))
    MESSAGES.labels(wire.REVOCATION, "revoked").inc()
    log.warning("Twitch revoked EventSub subscription %s (%s): %s", subscription.get("id"), subscription.get("type"),
                subscription.get("status"))
    return {"status": "revoked", "subscription_id": subscription["id"], "reason": subscription.get("status")}


@action("webhook", method=["POST"])
@action.uses(db)
def webhook():
    """Receive one EventSub webhook message."""
    try:
        return _receive()
    except DATABASE_ERRORS as err:  # reading a subscription's secret, say: not stored, so Twitch retries
        raise _unavailable(request.headers.get(wire.MESSAGE_TYPE), err) from None


def _receive():
    body = _raw_body(get_settings().webhook_max_body_bytes)
    payload = _parse(body)
    message_id = _authenticate(body, payload)
    message_type = request.headers.get(wire.MESSAGE_TYPE)
    if payload is None:
        raise _refuse(400, message_type, "bad_request", "the body is not a JSON object")
    if message_type == wire.NOTIFICATION:
        return _notification(message_id, payload)
    if message_type == wire.VERIFICATION:
        return _verification(payload)
    if message_type == wire.REVOCATION:
        return _revocation(payload)
    raise _refuse(400, message_type, "bad_request",
                  f"{wire.MESSAGE_TYPE} must be one of {', '.join(wire.MESSAGE_TYPES)}")
