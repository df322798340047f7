"""/openapi.json is a valid OpenAPI document naming every JSON route, and every documented route,
fuzzed from it, never answers a 5xx it does not document nor a status outside the document."""

from __future__ import annotations

import json
import re

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from py4web.core import Reloader
from schemathesis.specs.openapi.checks import status_code_conformance

from shared.web import load_apps
from tests.conftest import TEST_ENV

#: routes that answer something else than JSON: pages (HTML), redirects, streams, files, text
NOT_JSON = {
    ("GET", "/"),
    ("GET", "/auth/magic/<token>"),
    ("GET", "/favicon.ico"),
    ("GET", "/helix_proxy/healthz"),
    ("GET", "/index"),
    ("GET", "/livepulse/admin"),
    ("POST", "/livepulse/admin/events"),
    ("POST", "/livepulse/admin/events/<event_id:int>"),
    ("POST", "/livepulse/admin/events/<event_id:int>/delete"),
    ("POST", "/livepulse/admin/events/<event_id:int>/public-link"),
    ("POST", "/livepulse/admin/events/<event_id:int>/public-link/revoke"),
    ("POST", "/livepulse/admin/events/<event_id:int>/streams"),
    ("POST", "/livepulse/admin/events/<event_id:int>/streams/<stream_id:int>/delete"),
    ("GET", "/livepulse/event/<event_id:int>/dashboard"),
    ("GET", "/livepulse/events/<event_id:int>/history.csv"),
    ("GET", "/livepulse/events/<event_id:int>/stream"),
    ("GET", "/livepulse/events/<event_id:int>/streams/<stream_id:int>/history.csv"),
    ("GET", "/livepulse/events/<event_id:int>/streams/history.csv"),
    ("GET", "/livepulse/exports/<job_id>/download"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/metrics"),
    ("GET", "/sandbox/admin"),
    ("GET", "/twitch_auth/callback"),
    ("GET", "/twitch_auth/login"),
    ("GET", "/twitch_chat/api/recommendations/stream"),
    ("GET", "/twitch_chat/overlay"),
    ("GET", "/twitch_chat/overlay/<token>"),
    ("GET", "/twitch_chat/overlays"),
    ("POST", "/twitch_chat/overlays"),
    ("POST", "/twitch_chat/overlays/<link_id:int>/revoke"),
    ("GET", "/twitch_chat/recommendations"),
    ("POST", "/twitch_chat/recommendations/<recommendation_id:int>/<operation>"),
    ("GET", "/twitch_chat/submit/<token>"),
    ("POST", "/twitch_chat/submit/<token>"),
    ("GET", "/twitch_webhooks/admin"),
    ("GET", "/twitch_webhooks/admin/activities"),
    ("GET", "/twitch_webhooks/admin/alerts"),
    ("POST", "/twitch_webhooks/admin/alerts"),
    ("POST", "/twitch_webhooks/admin/alerts/<link_id:int>/revoke"),
    ("GET", "/twitch_webhooks/admin/conduit"),
    ("GET", "/twitch_webhooks/alerts/<token>"),
    ("GET", "/twitch_webhooks/admin/channels"),
    ("GET", "/twitch_webhooks/admin/events"),
}


def _openapi_path(rule: str) -> str:
    """A py4web rule as an OpenAPI path: <name:int> and <path:name> → {name}; /index is /."""
    return re.sub(r"<(?:path:)?([a-z_]+)(?::[a-z]+)?>", r"{\1}", rule)


def test_the_document_is_valid_openapi(client):
    validate(client.get("/openapi.json").json)


def test_every_json_route_is_documented_and_every_documented_route_exists(client):
    document = client.get("/openapi.json").json
    documented = {(method.upper(), route) for route, operations in document["paths"].items() for method in operations}
    routes = {(entry["method"], entry["rule"]) for app, entries in Reloader.ROUTES.items() if app != "_dashboard"
              for entry in entries if "/static/" not in entry["rule"]}
    json_routes = {(method, _openapi_path(rule)) for method, rule in routes - NOT_JSON}
    assert json_routes - documented == set(), "JSON routes missing from /openapi.json"
    assert documented - json_routes == set(), "/openapi.json names routes that do not exist"


#: every documented operation, read from /openapi.json as a client would
OPERATIONS = [result.ok() for result in schemathesis.openapi.from_wsgi("/openapi.json", load_apps())
              .get_all_operations()]


@pytest.fixture
def offline():
    """No request leaves the machine: Twitch and every other service are unreachable."""
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_no_route_answers_an_undocumented_status(operation, db, offline):
    """Fuzzed as an admin (the widest access), deterministically: a 5xx the document does not list
    (a 500) or any status outside the document fails."""
    documented = operation.definition.raw["responses"]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        # the whole query, then each parameter alone: a bad one must not hide another behind its 400
        for query in [case.query, *({name: value} for name, value in (case.query or {}).items())]:
            case.query = query
            response = case.call(headers={"X-Admin-Key": TEST_ENV["ADMIN_API_KEY"]})
            assert response.status_code < 500 or str(response.status_code) in documented, (
                f"{case.method} {case.formatted_path} {query} answered {response.status_code}: {response.text[:300]}")
            case.validate_response(response, checks=[status_code_conformance])

    answers_as_documented()


#: the requests that answered 500 when the system was fuzzed from outside (issue 16), as an admin
FOUND_BY_FUZZING = [
    ("GET", "/twitch_webhooks/events?limit=%C2%B2", None),  # limit=² : a Unicode digit
    ("GET", "/twitch_webhooks/activities?limit=%C2%B2", None),
    ("GET", "/twitch_webhooks/events?since=9999-12-31T23:59:59-01:00", None),
    ("GET", "/twitch_webhooks/activities?until=0001-01-01T00:00:00%2B01:00", None),
    ("GET", "/twitch_chat/api/recommendations/-1", None),
    ("GET", "/livepulse/exports/a%00b/status", None),  # NUL bytes
    ("GET", "/twitch_webhooks/events?channel=a%00b", None),
    ("GET", "/login?next=http://[x", None),
    ("GET", "/login?next=%2Fa%0D%0Ab", None),  # CR/LF
    ("POST", "/twitch_webhooks/v1/admin/service-accounts", {"name": 1}),
    ("POST", "/twitch_webhooks/v1/admin/service-accounts", {"name": "a\u0000b"}),
    ("POST", "/twitch_chat/requests/x/submit", {"url": "[]"}),
    ("POST", "/twitch_chat/requests/x/submit", {"url": "http://[x"}),
]


@pytest.mark.parametrize("method,target,body", FOUND_BY_FUZZING)
def test_what_fuzzing_found_is_a_4xx(client, admin_headers, db, method, target, body):
    kwargs = {"body": json.dumps(body).encode(), "content_type": "application/json"} if body is not None else {}
    answer = client.request(target, method=method, headers=admin_headers, expect_errors=True, **kwargs)
    assert answer.status_int < 500, answer.text[:300]
