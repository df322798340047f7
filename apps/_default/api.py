"""The admin app's JSON routes, for /openapi.json."""

from shared.openapi import INTEGER, operation, path

PATHS = {
    "/health": {"get": operation("ok or degraded; components and modules for an admin", auth=None, unavailable=True)},
    "/openapi.json": {"get": operation("this document", auth=None)},
    "/outbox/{outbox_id}/retry": {"post": operation("queue a dead outbox row again",
                                                    params=(path("outbox_id", INTEGER),))},
}
