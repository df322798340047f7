"""Another site's page (another port, a sibling subdomain) cannot change anything with an admin's
cookie; JSON routes take JSON only."""

import pytest

ACCOUNTS = "/twitch_webhooks/v1/admin/service-accounts"


@pytest.mark.parametrize("origin", ["http://127.0.0.1:9999", "http://evil.localhost", "null"])
def test_a_state_change_from_another_origin_is_refused(admin_client, db, origin):
    refused = admin_client.post_json(ACCOUNTS, {"name": "csrf"}, headers={"Origin": origin}, status=403)
    assert "may not change anything" in refused.json["message"]
    refused = admin_client.post(ACCOUNTS + "?name=csrf", headers={"Referer": f"{origin}/page"}, status=403)
    db.rollback()
    assert db(db.hub_service_account).count() == 0


def test_a_sibling_subdomain_of_the_public_url_is_another_origin(admin_client, db, configure):
    configure(PUBLIC_URL="https://bot.example.org")
    admin_client.post_json(ACCOUNTS, {"name": "csrf"}, headers={"Origin": "https://evil.example.org"}, status=403)
    admin_client.post_json(ACCOUNTS, {"name": "ok"}, headers={"Origin": "https://bot.example.org"}, status=201)


def test_our_own_pages_and_cookieless_scripts_pass(admin_client, client, admin_headers, db):
    admin_client.post_json(ACCOUNTS, {"name": "from-page"}, headers={"Origin": "http://localhost"}, status=201)
    admin_client.post_json(ACCOUNTS, {"name": "no-origin"}, status=201)  # a browser that sends neither header
    client.reset()
    client.post_json(ACCOUNTS, {"name": "script"}, headers={**admin_headers, "Origin": "http://elsewhere"}, status=201)


@pytest.mark.parametrize("path", [ACCOUNTS, "/twitch_webhooks/channels"])
def test_json_routes_refuse_a_text_plain_body(client, admin_headers, db, path):
    answer = client.post(path, '{"name": "x", "broadcaster": "x"}', headers=admin_headers,
                         content_type="text/plain", status=415)
    assert "application/json" in answer.json["message"]
