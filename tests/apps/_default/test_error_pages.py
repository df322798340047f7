"""Unknown URLs and unexpected errors: a branded HTML page for a browser, the JSON error for an API
client; /favicon.ico is served."""

from __future__ import annotations

import pytest

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_an_unknown_url_is_a_branded_page_for_a_browser(client, db):
    page = client.get("/twitch_chat/no-such-page", headers=HTML, status=404)
    assert page.content_type == "text/html"
    assert page.html.select_one("h1").text == "Page not found"
    assert page.html.select_one("header.top .brand").text == "WaddleBot" and page.html.select_one("a[href='/']")


@pytest.mark.parametrize("accept", ["application/json", "*/*", ""])
def test_an_unknown_url_is_json_for_an_api_client(client, db, accept):
    reply = client.get("/no/such/route", headers={"Accept": accept}, status=404)
    assert reply.content_type == "application/json"
    assert reply.json == {"error": "Not Found", "status": 404, "message": "no route /no/such/route"}


@pytest.fixture
def broken_health(monkeypatch):
    """GET /health raises an error nobody expected."""
    from apps._default import controllers

    def boom():
        raise RuntimeError("bug")

    monkeypatch.setattr(controllers, "system_health", boom)


def test_an_unexpected_error_is_a_branded_500_for_a_browser(client, db, broken_health):
    page = client.get("/health", headers=HTML, status=500)
    assert page.content_type == "text/html" and page.html.select_one("h1").text == "Something went wrong"
    assert page.html.select_one("code").text and "_dashboard" not in page.text and "bug" not in page.text


def test_an_unexpected_error_is_json_for_an_api_client(client, db, broken_health):
    reply = client.get("/health", headers={"Accept": "application/json"}, status=500)
    assert reply.json["status"] == 500 and reply.json["reference"] and "bug" not in reply.text


def test_the_favicon_is_served(client, db):
    reply = client.get("/favicon.ico")
    assert reply.content_type == "image/x-icon" and reply.body[:4] == b"\x00\x00\x01\x00"


def test_an_api_error_reached_by_a_browser_is_a_page_with_the_same_message(admin_client, db):
    page = admin_client.get("/twitch_chat/api/recommendations/999", headers=HTML, status=404)
    assert page.content_type == "text/html" and page.html.select_one("h1").text == "Not Found"
    api = admin_client.get("/twitch_chat/api/recommendations/999", status=404).json
    assert page.html.select_one("main p:not(.hint)").text == api["message"]
