"""!reco links (JSON API and the viewer's page), the streamer's recommendation queue (page,
JSON API, live SSE feed) and the stream overlay."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

from py4web import action, request, response
from py4web.core import redirect

from apps.twitch_chat import reco
from apps.twitch_chat.reco import RecoError
from shared.fixtures import Page, admin, db, json_error, live_stream
from shared.settings import get_settings

#: the queue page's buttons: operation → (label, status it sets); "delete" removes the row
OPERATIONS = {"accept": ("Accept", "accepted"), "played": ("Played", "played"), "reject": ("Reject", "rejected"),
              "reopen": ("Reopen", "new"), "delete": ("Delete", None)}
STREAM_SECONDS = 300  # a stream ends after this; EventSource reconnects with Last-Event-ID
POLL_SECONDS = 1.0


def _filters(source) -> dict[str, str]:
    return {name: (source.get(name) or "").strip() for name in ("status", "platform", "channel")}


def _json_body(example: str):
    """The parsed JSON body; 400 naming the expected shape when it is missing or malformed."""
    try:
        body = request.json if request.content_type.startswith("application/json") else None
    except Exception:  # ombott raises its own error type on malformed JSON
        body = None
    if not isinstance(body, dict):
        raise json_error(400, f"send a JSON object like {example}")
    return body


def _submitted_url() -> str:
    """`url` from a JSON body or a form."""
    if request.content_type.startswith("application/json"):
        url = _json_body('{"url": "https://youtu.be/…"}').get("url")
        if not isinstance(url, str):
            raise json_error(400, 'send {"url": "https://youtu.be/…"} with the YouTube or Spotify link')
        return url
    return request.forms.get("url") or ""


# --- the viewer's side -------------------------------------------------------------------------
@action("requests/<token>", method=["GET"])
@action.uses(db)
def request_info(token):
    try:
        return reco.ticket_view(reco.open_ticket_for(db, token))
    except RecoError as err:
        raise json_error(err.status, err.message) from None


@action("requests/<token>/submit", method=["POST"])
@action.uses(db)
def request_submit(token):
    url = _submitted_url()
    try:
        row = reco.submit(db, token, url)
    except RecoError as err:
        raise json_error(err.status, err.message) from None
    response.status = 201
    return {"recommendation": reco.as_dict(row)}


@action("submit/<token>", method=["GET", "POST"])
@action.uses(Page("submit.html"), db)
def submit_page(token):
    """The page a !reco link opens: a plain form (no JavaScript needed), then a confirmation."""
    page = {"token": token, "ticket": None, "recommendation": None, "error": None, "heading": "", "url": "",
            "minutes_left": 0, "accepted": reco.ACCEPTED_LINKS}
    try:
        ticket = reco.find_ticket(db, token)
    except RecoError as err:
        response.status = err.status
        return {**page, "heading": "Unknown link", "error": err.message}
    if request.method == "POST":
        page["url"] = request.forms.get("url") or ""
        try:
            reco.submit(db, token, page["url"])
        except RecoError as err:
            response.status = err.status
            page["error"] = err.message
            ticket = reco.find_ticket(db, token)
        else:
            redirect(f"/twitch_chat/submit/{token}")
    return _ticket_page(page, ticket)


def _ticket_page(page: dict, ticket) -> dict:
    """The form while the ticket is open, the confirmation once used, or why it cannot be used."""
    page.update(ticket=reco.ticket_view(ticket), minutes_left=reco.minutes_left(ticket))
    status = page["ticket"]["status"]
    if status == "used":
        found = reco.recommendation_of(db, ticket)
        if found is not None:
            page["recommendation"] = reco.as_dict(found)
        else:  # the streamer deleted it
            response.status = 409
            page.update(heading="Link already used",
                        error="This link was already used: each !reco link takes one recommendation.")
    elif status == "expired":
        response.status = 410
        page.update(heading="Link expired", error="This link has expired. Type !reco in the chat to get a new one.")
    return page


# --- the streamer's queue -----------------------------------------------------------------------
@action("recommendations", method=["GET"])
@action.uses(Page("recommendations.html"), db, admin)
def queue():
    filters = _filters(request.query)
    try:
        rows = reco.list_recommendations(db, **{name: value or None for name, value in filters.items()})
    except RecoError as err:
        response.status = err.status
        rows, filters["error"] = [], err.message
    return {"rows": [reco.as_dict(row) for row in rows], "filters": filters, "channels": reco.channels(db),
            "statuses": reco.RECOMMENDATION_STATUSES, "platforms": reco.PLATFORMS,
            "operations": [(operation, label, target) for operation, (label, target) in OPERATIONS.items()],
            "back": urlencode({name: value for name, value in filters.items() if value and name != "error"})}


@action("recommendations/<recommendation_id:int>/<operation>", method=["POST"])
@action.uses(db, admin)
def queue_operation(recommendation_id, operation):
    try:
        if operation not in OPERATIONS:
            raise RecoError(404, f"unknown operation {operation!r}: use {', '.join(OPERATIONS)}")
        target = OPERATIONS[operation][1]
        if target is None:
            reco.delete_recommendation(db, recommendation_id)
        else:
            reco.set_status(db, recommendation_id, target)
    except RecoError as err:
        raise json_error(err.status, err.message) from None
    # the queue's filters, encoded again: nothing else (a CR/LF, another site) reaches the Location header
    back = urlencode(parse_qsl(request.forms.get("back") or ""))
    redirect("/twitch_chat/recommendations" + (f"?{back}" if back else ""))


@action("api/recommendations", method=["GET"])
@action.uses(db, admin)
def api_list():
    filters = {name: value or None for name, value in _filters(request.query).items()}
    try:
        limit = int(request.query.get("limit") or 100)
        before = int(request.query.get("before") or 0) or None
    except ValueError:
        raise json_error(400, "limit and before must be integers") from None
    try:
        rows = reco.list_recommendations(db, limit=limit, before=before, **filters)
    except RecoError as err:
        raise json_error(err.status, err.message) from None
    return {"recommendations": [reco.as_dict(row) for row in rows],
            "next_before": rows[-1].id if len(rows) == max(1, min(limit, 500)) else None}


@action("api/recommendations/<recommendation_id:int>", method=["GET", "PATCH", "DELETE"])
@action.uses(db, admin)
def api_item(recommendation_id):
    try:
        if request.method == "DELETE":
            reco.delete_recommendation(db, recommendation_id)
            return {"deleted": recommendation_id}
        if request.method == "PATCH":
            status = _json_body('{"status": "accepted"}').get("status")
            return reco.as_dict(reco.set_status(db, recommendation_id, str(status)))
        return reco.as_dict(reco.get_recommendation(db, recommendation_id))
    except RecoError as err:
        raise json_error(err.status, err.message) from None


def _poll(after: int) -> list[dict]:
    """One short query; the connection goes back to the pool before the stream waits again."""
    try:
        return reco.events_after(db, after)
    finally:
        db.recycle_connection_in_pool_or_close("rollback")


def _event_stream(after: int, heartbeat: float) -> Iterator[bytes]:
    yield b"retry: 3000\n\n"
    started = last_sent = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        events = _poll(after)
        for event in events:
            after = event["id"]
            yield f"id: {after}\nevent: recommendation\ndata: {json.dumps(event)}\n\n".encode()
        if events:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= heartbeat:
            yield b": heartbeat\n\n"
            last_sent = time.monotonic()
        time.sleep(POLL_SECONDS)


@action("api/recommendations/stream", method=["GET"])
@action.uses(admin)
def api_stream():
    """Server-Sent Events: each change of a recommendation, after Last-Event-ID (or from now)."""
    last = request.headers.get("Last-Event-ID") or request.query.get("after") or ""
    after = int(last) if last.isascii() and last.isdigit() else _current_event_id()
    response.headers.update({"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                             "X-Accel-Buffering": "no"})
    return live_stream(_event_stream(after, get_settings().sse_heartbeat_seconds))


def _current_event_id() -> int:
    try:
        return reco.last_event_id(db)
    finally:
        db.recycle_connection_in_pool_or_close("rollback")
