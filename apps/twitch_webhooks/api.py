"""twitch_webhooks' JSON routes, for /openapi.json."""

from shared.openapi import ADMIN, SERVICE, operation, path, query

LISTING = (query("type"), query("channel"), query("user"), query("since"), query("until"), query("limit"),
           query("cursor"))
METHODS = {"type": "array", "items": {"type": "string"}}
ACCOUNT = {"type": "object", "properties": {"name": {"type": "string"}, "helix_methods": METHODS}}
INTEREST = {"type": "object", "properties": {
    "event_type": {"type": "string"}, "version": {"type": "string"}, "broadcaster_user_id": {"type": "string"},
    "condition": {"type": "object"}, "transport": {"type": "string"}, "webhook_url": {"type": "string"},
    "bot_account_id": {"type": "string"}}}
CLIENT_ID = path("client_id")

PATHS = {
    "/twitch_webhooks/alerts/{token}/feed": {"get": operation(
        "an alerts overlay link's feed: follows, subs, cheers and raids after `after` (404 unknown, 410 revoked)",
        params=(path("token"), query("after")), auth=None)},
    "/twitch_webhooks/webhook": {"post": operation(
        "Twitch's EventSub webhook messages (signed: Twitch-Eventsub-Message-* headers)", auth=None,
        unavailable=True, body={"type": "object"})},
    "/twitch_webhooks/subscriptions": {
        "get": operation("our EventSub subscriptions (and Twitch's, unless twitch=0)", params=(query("twitch"),),
                         unavailable=True),
        "post": operation("create an EventSub webhook subscription", unavailable=True, body={
            "type": "object", "properties": {"type": {"type": "string"}, "version": {"type": "string"},
                                             "condition": {"type": "object"}, "secret": {"type": "string"}}}),
        "delete": operation("delete one", params=(query("id"),), unavailable=True),
    },
    "/twitch_webhooks/channels": {
        "get": operation("the channels followed"),
        "post": operation("follow a channel by login or id", unavailable=True, body={
            "type": "object", "properties": {"channel": {"type": "string"}, "active": {"type": "boolean"}}}),
    },
    "/twitch_webhooks/channels/{broadcaster_id}": {"post": operation(
        "change a channel (active, points)", params=(path("broadcaster_id"),), unavailable=True,
        body={"type": "object"})},
    "/twitch_webhooks/user/{user_id}": {"get": operation("a Twitch user", params=(path("user_id"),),
                                                         unavailable=True)},
    "/twitch_webhooks/setup/{channel_id}": {"post": operation("subscribe a channel's activity types",
                                                              params=(path("channel_id"),), unavailable=True)},
    "/twitch_webhooks/events": {"get": operation("the events received", params=LISTING)},
    "/twitch_webhooks/activities": {"get": operation("the activities recorded", params=LISTING)},
    "/twitch_webhooks/v1/admin/service-accounts": {
        "get": operation("the hub's service accounts"),
        "post": operation("create one (its secret is in this answer only)", params=(query("name"),), body=ACCOUNT),
    },
    "/twitch_webhooks/v1/admin/service-accounts/{client_id}/regenerate": {"post": operation(
        "a new secret for a service account", params=(CLIENT_ID,))},
    "/twitch_webhooks/v1/admin/service-accounts/{client_id}/helix-methods": {"put": operation(
        "the methods it may send through helix_proxy with the app token", params=(CLIENT_ID,),
        body={"type": "object", "properties": {"helix_methods": METHODS}})},
    "/twitch_webhooks/v1/bots": {"get": operation("the bot accounts an interest may name", auth=(ADMIN, SERVICE))},
    "/twitch_webhooks/v1/interests": {
        "get": operation("the calling service's interests", auth=(SERVICE,)),
        "post": operation("add an interest", auth=(SERVICE,), body=INTEREST),
    },
    "/twitch_webhooks/v1/interests/{interest_id}": {"delete": operation("remove one", params=(path("interest_id"),),
                                                                        auth=(SERVICE,))},
}
