"""Who may make the proxy use the app's identity: an admin key or a service account allowed the
method; a caller's own token is used as it is; anyone else gets 401 and Twitch hears nothing."""

import responses

from tests.apps.helix_proxy.conftest import ADMIN, ID

SUBSCRIPTIONS = "/helix_proxy/helix/eventsub/subscriptions"


def token_grants(twitch) -> int:
    return sum(1 for call in twitch.mock.calls if call.request.url == f"{ID}/token")


def test_anonymous_callers_cannot_use_the_app_token_for_any_method(anonymous, twitch):
    twitch.add(responses.DELETE, "eventsub/subscriptions", status=204)
    twitch.add(responses.POST, "eventsub/subscriptions", json={"data": []}, status=202)
    twitch.add(responses.GET, "eventsub/subscriptions", json={"data": []})
    twitch.add(responses.GET, "users", json={"data": []})
    for method, target in [("DELETE", f"{SUBSCRIPTIONS}?id=X"), ("POST", SUBSCRIPTIONS), ("GET", SUBSCRIPTIONS),
                           ("GET", "/helix_proxy/users?id=1"), ("GET", "/helix_proxy/helix/users?id=1")]:
        answer = anonymous.request(target, method=method, status=401)
        assert "X-Admin-Key" in answer.json["message"]
    assert twitch.calls("eventsub/subscriptions") == [] and twitch.calls("users") == []
    assert token_grants(twitch) == 0


def test_an_admins_cached_answer_is_not_served_to_anonymous_callers(client, anonymous, twitch):
    twitch.add(responses.GET, "users", json={"data": [{"id": "1"}]})
    assert client.get("/helix_proxy/users?id=1").json == {"data": [{"id": "1"}]}
    assert client.get("/helix_proxy/users?id=1").headers["X-Cache"] == "HIT"
    anonymous.get("/helix_proxy/users?id=1", status=401)
    anonymous.get("/helix_proxy/helix/users?id=1", status=401)


def test_a_callers_own_token_is_used_as_it_is(anonymous, twitch):
    twitch.add(responses.DELETE, "eventsub/subscriptions", status=204)
    anonymous.delete(f"{SUBSCRIPTIONS}?id=X", headers={"Authorization": "Bearer callers-own"}, status=204)
    assert twitch.calls("eventsub/subscriptions")[0].headers["Authorization"] == "Bearer callers-own"
    assert token_grants(twitch) == 0


def service_account(anonymous, **fields) -> dict:
    return anonymous.post_json("/twitch_webhooks/v1/admin/service-accounts", fields, headers=ADMIN, status=201).json


def test_a_service_account_uses_the_app_token_for_the_methods_an_admin_allowed(anonymous, twitch, db):
    twitch.add(responses.GET, "users", json={"data": [{"id": "1"}]})
    twitch.add(responses.DELETE, "eventsub/subscriptions", status=204)
    account = service_account(anonymous, name="stats", helix_methods=["GET"])
    assert account["helix_methods"] == ["GET"]
    credentials = {"X-Client-Id": account["client_id"], "X-Client-Secret": account["client_secret"]}

    assert anonymous.get("/helix_proxy/users?id=1", headers=credentials).json == {"data": [{"id": "1"}]}
    assert twitch.calls("users")[0].headers["Authorization"] == "Bearer app-token-1"
    refused = anonymous.delete(f"{SUBSCRIPTIONS}?id=X", headers=credentials, status=403)
    assert "may not send DELETE" in refused.json["message"]
    wrong = {**credentials, "X-Client-Secret": "not-the-secret"}
    anonymous.get("/helix_proxy/users?id=2", headers=wrong, status=401)
    assert twitch.calls("eventsub/subscriptions") == []

    changed = anonymous.put_json(f"/twitch_webhooks/v1/admin/service-accounts/{account['client_id']}/helix-methods",
                                 {"helix_methods": ["DELETE", "GET"]}, headers=ADMIN).json
    assert changed["helix_methods"] == ["GET", "DELETE"]
    anonymous.delete(f"{SUBSCRIPTIONS}?id=X", headers=credentials, status=204)


def test_a_service_account_without_helix_methods_gets_no_app_token(anonymous, twitch, db):
    account = service_account(anonymous, name="hub-only")
    assert account["helix_methods"] == []
    credentials = {"X-Client-Id": account["client_id"], "X-Client-Secret": account["client_secret"]}
    anonymous.get("/helix_proxy/users?id=1", headers=credentials, status=403)


def test_helix_methods_must_be_http_methods(anonymous, db):
    bad = anonymous.post_json("/twitch_webhooks/v1/admin/service-accounts", {"name": "x", "helix_methods": ["FETCH"]},
                              headers=ADMIN, status=422)
    assert bad.json["field"] == "helix_methods"
    anonymous.put_json("/twitch_webhooks/v1/admin/service-accounts/svc_none/helix-methods", {"helix_methods": []},
                       headers=ADMIN, status=404)
