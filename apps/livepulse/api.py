"""livepulse's JSON routes, for /openapi.json (the SSE stream and the CSV files are not JSON)."""

from shared.openapi import ADMIN, INTEGER, operation, path, query

EVENT = path("event_id", INTEGER)
WINDOW = (query("minutes"), query("from"), query("to"))

PATHS = {
    "/livepulse/events/{event_id}/history": {"get": operation(
        "viewer counts of an event over a window (admin, or a public link's token)",
        params=(EVENT, *WINDOW, query("limit"), query("afterTs"), query("streams"), query("token")),
        auth=(ADMIN,))},
    "/livepulse/events/{event_id}/export": {"post": operation(
        "start a CSV export job", params=(EVENT,),
        body={"type": "object", "properties": {"type": {"enum": ["total", "streams", "stream"]}, "sid": INTEGER,
                                               "minutes": INTEGER, "from": {"type": "string"},
                                               "to": {"type": "string"}}})},
    "/livepulse/exports/{job_id}/status": {"get": operation("an export job's progress", params=(path("job_id"),))},
}
