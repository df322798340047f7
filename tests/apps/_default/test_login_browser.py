import pytest

from tests.conftest import TEST_ENV


@pytest.mark.browser
def test_admin_logs_in_through_the_form_and_sees_the_modules(live_server, page):
    page.goto(f"{live_server}/")
    assert "/login" in page.url
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong password."
    page.fill("#password", TEST_ENV["ADMIN_PASSWORD"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    modules = page.locator("tr.module").evaluate_all("rows => rows.map(r => r.dataset.module)")
    assert {"twitch_auth", "twitch_webhooks", "twitch_chat", "helix_proxy", "livepulse"} <= set(modules)
