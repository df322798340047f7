"""The one page shell: every module's admin page has the same header, the navigation built from all
manifests' admin_pages (its own entry marked current) and log-out; an anonymous visitor sees none."""

from __future__ import annotations

import pytest

from shared.registry import discover

ADMIN_PAGES = [(manifest.name, page["path"], page["title"]) for manifest in discover()
               for page in manifest.admin_pages]


@pytest.mark.parametrize(("module", "path", "title"), ADMIN_PAGES)
def test_every_admin_page_shows_the_navigation_of_every_module(admin_client, module, path, title):
    page = admin_client.get(path, headers={"Accept": "text/html"})
    links = page.html.select("header.top nav.modules a")
    assert [(link["href"], link.text) for link in links] == [(p, t) for _, p, t in ADMIN_PAGES]
    assert [link["href"] for link in links if link.get("aria-current") == "page"] == [path]
    assert page.html.select_one("header.top form[action='/logout'] button").text == "Log out"


def test_an_anonymous_page_has_no_navigation_and_no_log_out(client):
    page = client.get("/login", headers={"Accept": "text/html"})
    assert page.html.select_one("header.top .brand").text == "WaddleBot"
    assert page.html.select("header.top nav") == [] and page.html.select("form[action='/logout']") == []


def test_a_page_outside_the_navigation_marks_no_entry_current(admin_client):
    page = admin_client.get("/twitch_auth/login", headers={"Accept": "text/html"}, status=503)
    assert page.html.select("header.top nav.modules a[aria-current]") == []
