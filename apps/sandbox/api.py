"""The sandbox module's JSON route, for /openapi.json."""

from shared.openapi import operation

PATHS = {
    "/sandbox/status": {"get": operation("the scenario's progress and what the fake WaddleBot APIs received "
                                         "(503 outside the sandbox)", unavailable=True)},
}
