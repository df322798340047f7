"""twitch_auth's JSON routes, for /openapi.json."""

from shared.openapi import operation, path, query

USER_ID = path("user_id")

PATHS = {
    "/twitch_auth/status": {"get": operation("whether a user's token works, its scopes and expiry",
                                             params=(query("user_id", required=True),))},
    "/twitch_auth/refresh/{user_id}": {"post": operation("refresh a user's token now", params=(USER_ID,),
                                                         unavailable=True)},
    "/twitch_auth/revoke/{user_id}": {"post": operation("revoke a user's token at Twitch and forget it",
                                                        params=(USER_ID,), unavailable=True)},
    "/twitch_auth/users": {"get": operation("the authorized accounts and bot accounts")},
}
