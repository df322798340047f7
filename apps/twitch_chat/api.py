"""twitch_chat's JSON routes, for /openapi.json (the SSE feed and the pages are not JSON)."""

from shared.openapi import INTEGER, operation, path, query

TOKEN = path("token")
RECOMMENDATION = path("recommendation_id", INTEGER)

PATHS = {
    "/twitch_chat/requests/{token}": {"get": operation("a !reco link: who asked, until when", params=(TOKEN,),
                                                       auth=None)},
    "/twitch_chat/requests/{token}/submit": {"post": operation(
        "recommend a YouTube or Spotify link with a !reco link", params=(TOKEN,), auth=None, unavailable=True,
        body={"type": "object", "properties": {"url": {"type": "string"}}})},
    "/twitch_chat/overlay/{token}/feed": {"get": operation(
        "an overlay link's feed: the latest accepted recommendations (404 unknown, 410 revoked or expired)",
        params=(TOKEN,), auth=None)},
    "/twitch_chat/api/recommendations": {"get": operation(
        "the recommendations, newest first",
        params=(query("status"), query("platform"), query("channel"), query("limit"), query("before")))},
    "/twitch_chat/api/recommendations/{recommendation_id}": {
        "get": operation("one recommendation", params=(RECOMMENDATION,)),
        "patch": operation("change its status", params=(RECOMMENDATION,),
                           body={"type": "object", "properties": {"status": {"type": "string"}}}),
        "delete": operation("delete it", params=(RECOMMENDATION,)),
    },
}
