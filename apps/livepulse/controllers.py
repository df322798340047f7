"""livepulse HTTP surface: the admin page, the dashboard, and the API (SSE, history, CSV, export
jobs). Reading an event needs the admin or its public link; everything else needs the admin."""

import json
import time

from py4web import action, request, response

from apps.livepulse import history, jobs
from apps.livepulse.access import admin_event, readable_event
from apps.livepulse.csvexport import DEFAULT_BATCH, KINDS, MAX_BATCH, CsvSpec, csv_chunks
from apps.livepulse.params import InputError, Window, parse_int, parse_time, parse_window
from apps.livepulse.samples import ts_of_sample
from apps.livepulse.sse import database, event_stream
from shared.fixtures import Page, admin, db, json_error, live_stream
from shared.headers import allow_embedding
from shared.settings import get_settings

FILE_BLOCK = 64 * 1024


def _bad_input(err: InputError):
    return json_error(400, str(err))


def _stream_of(event, stream_id: int):
    row = db.lp_stream(stream_id)
    if row is None or row.event_id != event.id:
        raise json_error(404, f"event {event.id} has no stream {stream_id}")
    return row


# -- reading an event (admin or public link) -------------------------------------------------------
@action("event/<event_id:int>/dashboard", method=["GET"])
@action.uses(Page("dashboard.html"), db)
def dashboard(event_id):
    event = readable_event(db, event_id)
    token = request.query.get("token") or ""
    allow_embedding()  # a public link's dashboard may sit in another site's iframe
    return {"event": event, "token": token, "page_title": f"{event.name} · LivePulse",
            "poll_seconds": get_settings().poll_interval_seconds, "notices": _not_polled(event),
            "sampled": not db(db.lp_sample.event_id == event.id).isempty()}


def _not_polled(event) -> list[str]:
    """Why some or all of the event's streams get no samples (an empty dashboard says why)."""
    settings = get_settings()
    platforms = {row.platform for row in db(db.lp_stream.event_id == event.id).select(db.lp_stream.platform)}
    if not platforms:
        return ["This event has no stream yet: add YouTube or Twitch streams on the LivePulse admin page."]
    notices = []
    if "youtube" in platforms and not settings.yt_api_key:
        notices.append("YT_API_KEY is not set: YouTube streams are not polled.")
    if "twitch" in platforms and not (settings.twitch_app_id and settings.twitch_app_secret):
        notices.append("TWITCH_APP_ID and TWITCH_APP_SECRET are not set: Twitch streams are not polled.")
    return notices


@action("events/<event_id:int>/history", method=["GET"])
@action.uses(db)
def history_json(event_id):
    event = readable_event(db, event_id)
    settings = get_settings()
    try:
        window = parse_window(request.query, settings, time.time())
        limit = parse_int("limit", request.query.get("limit"), settings.history_max_points, 10,
                          settings.history_max_points)
        if request.query.get("afterTs"):
            after = parse_time("afterTs", request.query["afterTs"])
            window = Window(min(max(window.start, after + 1), window.end + 1), window.end)
    except InputError as err:
        raise _bad_input(err) from None
    per_stream = request.query.get("streams", "0").lower() in ("1", "true", "yes")
    # compact JSON: py4web's default (indented, pure-Python encoder) costs more than the queries
    response.headers["Content-Type"] = "application/json"
    return json.dumps(history.report(db, event, window, limit, per_stream), separators=(",", ":"))


@action("events/<event_id:int>/stream", method=["GET"])
def stream(event_id):
    # No db fixture: hundreds of clients may connect at once, so the setup queries share the
    # SSE connection slots (sse.database) instead of each taking a connection of its own.
    settings = get_settings()
    now = int(time.time())
    last_event_id = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    with database() as shared_db:
        event = readable_event(shared_db, event_id)
        try:
            minutes = parse_int("minutes", request.query.get("minutes"), 180, 0, settings.max_history_minutes)
            resume = parse_int("Last-Event-ID", last_event_id, 0, 0, 2**63 - 1) if last_event_id else None
        except InputError as err:
            raise _bad_input(err) from None
        resumed_ts = ts_of_sample(shared_db, event.id, resume) if resume is not None else None
    after = now - minutes * 60 if minutes else now
    if resumed_ts is not None:
        after = max(resumed_ts, now - settings.max_history_minutes * 60)
    response.headers["Content-Type"] = "text/event-stream; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return live_stream(event_stream(int(event.id), after, settings.sse_heartbeat_seconds))


# -- CSV (admin) -----------------------------------------------------------------------------------
def _csv(event, kind: str, stream_id: int | None = None):
    settings = get_settings()
    try:
        window = parse_window(request.query, settings, time.time())
        batch = parse_int("batch", request.query.get("batch"), DEFAULT_BATCH, 100, MAX_BATCH)
    except InputError as err:
        raise _bad_input(err) from None
    spec = CsvSpec(kind, int(event.id), window, stream_id, batch)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{spec.file_name()}"'
    return (data for data, _ in csv_chunks(db, spec))


@action("events/<event_id:int>/history.csv", method=["GET"])
@action.uses(db, admin)
def total_csv(event_id):
    return _csv(admin_event(db, event_id), "total")


@action("events/<event_id:int>/streams/history.csv", method=["GET"])
@action.uses(db, admin)
def streams_csv(event_id):
    return _csv(admin_event(db, event_id), "streams")


@action("events/<event_id:int>/streams/<stream_id:int>/history.csv", method=["GET"])
@action.uses(db, admin)
def stream_csv(event_id, stream_id):
    event = admin_event(db, event_id)
    return _csv(event, "stream", _stream_of(event, stream_id).id)


# -- export jobs (admin) ---------------------------------------------------------------------------
@action("events/<event_id:int>/export", method=["POST"])
@action.uses(db, admin)
def create_export(event_id):
    event = admin_event(db, event_id)
    try:
        body = request.json if (request.content_type or "").startswith("application/json") else None
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise json_error(400, 'send a JSON object: {"type": "total" | "streams" | "stream", "sid", "minutes", '
                              '"from", "to"}')
    kind = body.get("type")
    if kind not in KINDS:
        raise json_error(400, f"type must be one of {', '.join(KINDS)}")
    stream_id = None
    if kind == "stream":
        try:
            stream_id = int(body.get("sid"))
        except (TypeError, ValueError):
            raise json_error(400, "sid (the stream id) is required for type stream") from None
        _stream_of(event, stream_id)
    try:
        window = parse_window({name: str(body[name]) for name in ("minutes", "from", "to")
                               if body.get(name) not in (None, "")}, get_settings(), time.time())
    except InputError as err:
        raise _bad_input(err) from None
    job_id = jobs.create_job(db, CsvSpec(kind, int(event.id), window, stream_id))
    response.status = 202
    return {"jobId": job_id, "statusUrl": f"/livepulse/exports/{job_id}/status"}


def _job(job_id: str):
    job = db(db.lp_export_job.job_id == job_id).select(limitby=(0, 1)).first()
    if job is None:
        raise json_error(404, f"no export job {job_id} (finished exports are deleted after EXPORT_RETENTION_HOURS)")
    return job


@action("exports/<job_id>/status", method=["GET"])
@action.uses(db, admin)
def export_status(job_id):
    return jobs.job_status(_job(job_id))


@action("exports/<job_id>/download", method=["GET"])
@action.uses(db, admin)
def export_download(job_id):
    job = _job(job_id)
    if job.state != "done":
        raise json_error(409, f"export {job_id} is {job.state}, not done yet", state=job.state)
    path = jobs.job_path(job)
    if not path.exists():
        raise json_error(410, f"the file of export {job_id} is gone; start a new export")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{jobs.job_spec(job).file_name()}"'
    response.headers["Content-Length"] = str(path.stat().st_size)

    def blocks():
        with path.open("rb") as handle:
            while block := handle.read(FILE_BLOCK):
                yield block

    return blocks()

