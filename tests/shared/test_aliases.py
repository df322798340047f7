"""Path aliases: parsed and validated from manifests, applied before py4web routes a request."""

import pytest

from shared.aliases import AliasError, AliasTable, check_conflicts, parse_alias
from shared.registry import ManifestError, _parse, discover


def test_parameters_are_carried_to_the_target():
    table = AliasTable([parse_alias("/twitch/auth/refresh/<user_id>", "/twitch_auth/refresh/<user_id>", "twitch_auth"),
                        parse_alias("/v1/<path:rest>", "/twitch_webhooks/v1/<rest>", "twitch_webhooks"),
                        parse_alias("/twitch/webhook", "/twitch_webhooks/webhook", "twitch_webhooks")])
    assert table.rewrite("/twitch/auth/refresh/1234") == "/twitch_auth/refresh/1234"
    assert table.rewrite("/v1/admin/service-accounts/svc_1/regenerate") == (
        "/twitch_webhooks/v1/admin/service-accounts/svc_1/regenerate")
    assert table.rewrite("/twitch/webhook") == "/twitch_webhooks/webhook"
    for unchanged in ("/twitch/auth/refresh/1/2", "/twitch/auth/refresh/", "/v1", "/twitch/webhook/x", "/", ""):
        assert table.rewrite(unchanged) is None


@pytest.mark.parametrize(("source", "target", "problem"), [
    ("twitch/webhook", "/twitch_webhooks/webhook", "starting with '/'"),
    ("/twitch/webhook", "/twitch_auth/webhook", "must be one of this app's paths"),
    ("/twitch/user/<id>", "/twitch_webhooks/user/<user_id>", "uses user_id, which the source does not capture"),
    ("/x/<path:rest>/more", "/twitch_webhooks/<rest>", "must come last"),
    ("/x/<a>/<a>", "/twitch_webhooks/<a>", "appears twice"),
])
def test_a_bad_alias_is_refused_with_the_reason(source, target, problem):
    with pytest.raises(AliasError, match=problem):
        parse_alias(source, target, "twitch_webhooks")


def test_two_apps_may_not_claim_one_path_nor_hide_an_app():
    one = parse_alias("/twitch/events", "/twitch_webhooks/events", "twitch_webhooks")
    other = parse_alias("/twitch/events", "/twitch_auth/events", "twitch_auth")
    with pytest.raises(AliasError, match="declared by both twitch_webhooks and twitch_auth"):
        check_conflicts({"twitch_webhooks": (one,), "twitch_auth": (other,)}, ["twitch_webhooks", "twitch_auth"])
    hiding = parse_alias("/helix_proxy/users", "/twitch_auth/users", "twitch_auth")
    with pytest.raises(AliasError, match="would hide the routes of app 'helix_proxy'"):
        check_conflicts({"twitch_auth": (hiding,)}, ["helix_proxy", "twitch_auth"])


def test_a_manifest_with_bad_aliases_names_the_app_and_the_problem():
    manifest = {"name": "twitch_auth", "title": "T", "version": "1"}
    with pytest.raises(ManifestError, match=r"twitch_auth/manifest.json: 'aliases' must map"):
        _parse("twitch_auth", {**manifest, "aliases": ["/twitch/auth/login"]})
    with pytest.raises(ManifestError, match=r"twitch_auth/manifest.json: alias '/old'.*/twitch_auth/"):
        _parse("twitch_auth", {**manifest, "aliases": {"/old": "/elsewhere"}})


def test_the_shipped_manifests_declare_valid_aliases_without_conflicts():
    manifests = discover()
    check_conflicts({manifest.name: manifest.aliases for manifest in manifests}, [m.name for m in manifests])
    sources = {alias.source for manifest in manifests for alias in manifest.aliases}
    assert {"/twitch/webhook", "/twitch/auth/callback", "/v1/<path:rest>"} <= sources
