"""helix_proxy's JSON routes, for /openapi.json. Answers are Helix's own; 503 when Twitch cannot be
reached, is not configured or the rate limit is too far away."""

from shared.openapi import ADMIN, BEARER, SERVICE, operation, path, query

PROXY = (BEARER, ADMIN, SERVICE)
IDS = (query("id"), query("login"))

PATHS = {
    "/helix_proxy/users": {"get": operation("Helix users by id and/or login", params=IDS, auth=PROXY,
                                            unavailable=True)},
    "/helix_proxy/chatters": {"get": operation("Helix chat/chatters with the caller's token",
                                               params=(query("broadcaster_id"), query("moderator_id"), query("first"),
                                                       query("after")), auth=(BEARER,), unavailable=True)},
    "/helix_proxy/moderated-channels": {"get": operation("Helix moderation/channels of the token's user",
                                                         params=(query("user_id"), query("first"), query("after")),
                                                         auth=(BEARER,), unavailable=True)},
    "/helix_proxy/helix/{path}": {
        method: operation(f"any Helix call ({method.upper()}), unchanged", params=(path("path"),), auth=PROXY,
                          unavailable=True)
        for method in ("get", "post", "put", "patch", "delete")},
}
