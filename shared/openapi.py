"""/openapi.json: every module's JSON routes in one OpenAPI 3.1 document.

A module lists its routes in the manifest's "api" entry (`apps.<app>.<module>:PATHS`), written with
the helpers below; the core adds the shared parts (the error body, the credentials). The test
suite validates the document, checks that it names every JSON route, and fuzzes each one from it."""

from __future__ import annotations

from functools import lru_cache

from shared.registry import discover, standalone_entry

#: the credentials a route takes (OpenAPI security schemes)
ADMIN = "adminKey"
SERVICE = ("clientId", "clientSecret")
BEARER = "bearer"

ERROR = {"type": "object", "required": ["error", "status", "message"],
         "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
                        "message": {"type": "string", "description": "what to fix"}}}


def query(name: str, schema: dict | None = None, required: bool = False, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema or {"type": "string"},
            **({"description": description} if description else {})}


def path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


INTEGER = {"type": "integer"}


def operation(summary: str, *, params: tuple[dict, ...] = (), body: dict | None = None,
              auth: tuple[str, ...] | None = (ADMIN,), unavailable: bool = False,
              content: str = "application/json") -> dict:
    """One route: 2XX with a JSON (or `content`) body, 4XX with the error body; 503 only where
    the route depends on something that may be down or not configured (`unavailable`). `auth`:
    the security schemes that open it (any one of them), None for a public route."""
    responses = {"2XX": {"description": "done", "content": {content: {"schema": {}}}},
                 "4XX": {"$ref": "#/components/responses/Error"}}
    if unavailable:
        responses["503"] = {"$ref": "#/components/responses/Error"}
    result = {"summary": summary, "parameters": list(params), "responses": responses}
    if body is not None:
        result["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    if auth is not None:
        result["security"] = [({name: [] for name in scheme} if isinstance(scheme, tuple) else {scheme: []})
                              for scheme in auth]
    return result


def _paths() -> dict:
    merged: dict[str, dict] = {}
    for manifest in discover():
        if manifest.api:
            for route, operations in standalone_entry(manifest.api).items():
                merged.setdefault(route, {}).update(operations)
    return merged


@lru_cache(maxsize=1)
def document() -> dict:
    """The OpenAPI document (manifests do not change while running)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "WaddleBot", "version": "1.0.0",
                 "description": "JSON routes of every WaddleBot module. Errors: {error, status, message}."},
        "paths": _paths(),
        "components": {
            "responses": {"Error": {"description": "what went wrong and what to fix",
                                    "content": {"application/json": {"schema": ERROR}}}},
            "securitySchemes": {
                ADMIN: {"type": "apiKey", "in": "header", "name": "X-Admin-Key"},
                SERVICE[0]: {"type": "apiKey", "in": "header", "name": "X-Client-Id"},
                SERVICE[1]: {"type": "apiKey", "in": "header", "name": "X-Client-Secret"},
                BEARER: {"type": "http", "scheme": "bearer"},
            },
        },
    }
