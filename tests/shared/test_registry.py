import inspect
import json

import click
import pytest

from shared.registry import Health, ManifestError, _parse, discover, load_entry, provided_page, read_manifest
from shared.settings import APPS_FOLDER, setting_names

MODULES = {"twitch_auth", "twitch_webhooks", "twitch_chat", "helix_proxy", "livepulse", "sandbox"}


def test_the_modules_and_the_admin_app_are_declared():
    assert {manifest.name for manifest in discover()} == MODULES | {"_default"}


@pytest.mark.parametrize("folder", sorted(MODULES | {"_default"}))
def test_every_manifest_is_valid(folder, wsgi_app):
    manifest = read_manifest(folder)
    assert manifest.name == folder == (APPS_FOLDER / folder).name
    assert set(manifest.requires) <= set(setting_names())
    for service in manifest.services:
        func = load_entry(service.entry)
        assert callable(func) and list(inspect.signature(func).parameters) == ["stop"]
    if manifest.health:
        assert isinstance(load_entry(manifest.health)(), Health)
    if manifest.commands:
        assert all(isinstance(command, click.Command) for command in load_entry(manifest.commands))
    for page in manifest.admin_pages:
        assert page["path"].startswith("/") and page["title"]
    if manifest.consumes_subscriptions:
        assert callable(load_entry(manifest.consumes_subscriptions))


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "other", "title": "t", "version": "1"}, "name 'other' must equal the folder name"),
    ({"name": "x", "version": "1"}, "'title' must be a non-empty string"),
    ({"name": "x", "title": "t", "version": "1", "requires": ["NOPE"]}, "unknown settings in 'requires': NOPE"),
    ({"name": "x", "title": "t", "version": "1", "services": [{"name": "s"}]}, "bad service"),
    ({"name": "x", "title": "t", "version": "1", "schema": "apps.other.schema:define"},
     "'schema' must be 'apps.x.<module>:<function>'"),
    ({"name": "x", "title": "t", "version": "1", "provides": {"twitch_login": "twitch_auth/login"}},
     "'provides' must map roles to paths starting with /"),
    ({"name": "x", "title": "t", "version": "1", "consumes": ["channel.chat.message"]}, "'consumes' must be"),
    ({"name": "x", "title": "t", "version": "1", "consumes": {"events": [""]}}, "'consumes' must be"),
    ({"name": "x", "title": "t", "version": "1", "consumes": {"events": [], "subscriptions": "apps.y.m:f"}},
     "'consumes.subscriptions' must be 'apps.x.<module>:<function>'"),
])
def test_a_malformed_manifest_says_what_is_wrong(data, message):
    with pytest.raises(ManifestError, match=message):
        _parse("x", json.loads(json.dumps(data)))


def test_the_core_finds_a_page_by_the_role_a_module_provides():
    assert provided_page("twitch_login") == "/twitch_auth/login"
    assert provided_page("no_such_role") is None
