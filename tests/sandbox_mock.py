"""Mount a sandbox fake (modules/sandbox) on a `responses` mock: requests to `base_url` are
answered by the fake's `handle`, in process, so tests use the same fakes as `waddlebot sandbox`."""

from __future__ import annotations

import re
from typing import TypeVar

import responses

from modules.sandbox.web import Fake, Request

F = TypeVar("F", bound=Fake)


def mount(mock: responses.RequestsMock, base_url: str, fake: F) -> F:
    pattern = re.compile(re.escape(base_url.rstrip("/")) + r"(/[^?]*)?(\?.*)?$")

    def answer(request):
        response = fake.handle(Request.from_url(request.method, request.url, dict(request.headers), request.body))
        return response.status, response.headers, response.body

    for method in (responses.GET, responses.POST, responses.DELETE, responses.PATCH, responses.PUT):
        mock.add_callback(method, pattern, callback=answer)
    return fake
