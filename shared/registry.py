"""WaddleBot modules: manifests read before any module code runs, validation, status and health.

Each app folder holds a `manifest.json`:

    {"name": "twitch_auth", "title": "…", "version": "1.0.0",
     "requires": ["TWITCH_APP_ID"],                      # settings a ready module needs
     "services": [{"name": "token_validator", "entry": "apps.twitch_auth.workers:validate_tokens",
                   "singleton": true}],                  # background services the worker runs
     "admin_pages": [{"title": "Accounts", "path": "/twitch_auth/users"}],
     "schema": "apps.twitch_auth.schema:define",         # optional: define(db), INDEXES beside it
     "api": "apps.twitch_auth.api:PATHS",                # optional: its JSON routes (/openapi.json)
     "provides": {"twitch_login": "/twitch_auth/login"}, # optional: pages the core links to by role
     "health": "apps.twitch_auth.health:check",          # optional: () -> Health
     "commands": "apps.twitch_auth.cli:commands",        # optional: click commands for `waddlebot`
     "aliases": {"/twitch/auth/login": "/twitch_auth/login"},  # optional: old paths (shared.aliases)
     "standalone_aliases": {"/healthz": "/helix_proxy/healthz"}}  # optional: only when served alone

A module's schema and api files are loaded on their own, before its package (whose controllers
need the database): they may import pydal and `shared`, not the rest of their app.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from shared.aliases import Alias, AliasError, parse_alias
from shared.settings import APPS_FOLDER, Settings, get_settings, setting_names


class ModuleError(Exception):
    """Base of the typed failures a module reports."""


class NotConfigured(ModuleError):
    """Settings are missing: nothing to retry until someone configures them."""


class NeedsReauth(ModuleError):
    """Credentials were rejected: a person must log in again."""


class NotReady(ModuleError):
    """A dependency is not available yet: retry later."""


@dataclass(frozen=True)
class Health:
    status: Literal["ok", "degraded", "down", "not_configured", "needs_reauth"]
    detail: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    name: str
    entry: str
    singleton: bool = False


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    version: str
    requires: tuple[str, ...] = ()
    services: tuple[Service, ...] = ()
    admin_pages: tuple[dict, ...] = ()
    health: str | None = None
    commands: str | None = None
    schema: str | None = None
    provides: tuple[tuple[str, str], ...] = ()
    aliases: tuple[Alias, ...] = ()
    standalone_aliases: tuple[Alias, ...] = ()
    api: str | None = None  # "apps.<app>.<module>:PATHS": its JSON routes, for /openapi.json
    consumes: tuple[str, ...] = ()  # event types this module reads through shared.dispatch
    consumes_subscriptions: str | None = None  # 'apps.<app>.<module>:<function>' → the Wanted it needs

    def missing_settings(self, settings: Settings) -> list[str]:
        return [name for name in self.requires if not getattr(settings, name.lower(), None)]


class ManifestError(ValueError):
    """A manifest is malformed; the message names the app and the field."""


def _parse(folder_name: str, data: dict) -> Manifest:
    for key in ("name", "title", "version"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ManifestError(f"{folder_name}/manifest.json: '{key}' must be a non-empty string")
    if data["name"] != folder_name:
        raise ManifestError(f"{folder_name}/manifest.json: name {data['name']!r} must equal the folder name")
    known = set(setting_names())
    unknown = [name for name in data.get("requires", []) if name not in known]
    if unknown:
        raise ManifestError(f"{folder_name}/manifest.json: unknown settings in 'requires': {', '.join(unknown)}")
    for key, attribute in (("schema", "function"), ("api", "PATHS")):
        entry = data.get(key)
        if entry is not None and not (isinstance(entry, str) and entry.startswith(f"apps.{folder_name}.")
                                      and entry.count(":") == 1):
            raise ManifestError(
                f"{folder_name}/manifest.json: '{key}' must be 'apps.{folder_name}.<module>:<{attribute}>'")
    consumes, consumes_subscriptions = _consumes(folder_name, data)
    provides = data.get("provides", {})
    if not isinstance(provides, dict) or not all(isinstance(v, str) and v.startswith("/") for v in provides.values()):
        raise ManifestError(f"{folder_name}/manifest.json: 'provides' must map roles to paths starting with /")
    try:
        services = tuple(Service(**service) for service in data.get("services", []))
    except TypeError as err:
        raise ManifestError(f"{folder_name}/manifest.json: bad service ({err})") from None
    return Manifest(name=data["name"], title=data["title"], version=data["version"],
                    requires=tuple(data.get("requires", [])), services=services,
                    admin_pages=tuple(data.get("admin_pages", [])), health=data.get("health"),
                    commands=data.get("commands"), schema=data.get("schema"), provides=tuple(provides.items()),
                    api=data.get("api"),
                    aliases=_aliases(folder_name, data, "aliases"),
                    standalone_aliases=_aliases(folder_name, data, "standalone_aliases"),
                    consumes=consumes, consumes_subscriptions=consumes_subscriptions)


def _consumes(folder_name: str, data: dict) -> tuple[tuple[str, ...], str | None]:
    """'consumes': {"events": [event types], "subscriptions": "apps.<app>.<module>:<function>"}."""
    consumes = data.get("consumes", {})
    events = consumes.get("events", []) if isinstance(consumes, dict) else None
    entry = consumes.get("subscriptions") if isinstance(consumes, dict) else None
    if not isinstance(events, list) or not all(isinstance(name, str) and name for name in events):
        raise ManifestError(f"{folder_name}/manifest.json: 'consumes' must be {{\"events\": [event types], "
                            "\"subscriptions\": entry}")
    if entry is not None and not (isinstance(entry, str) and entry.startswith(f"apps.{folder_name}.")
                                  and entry.count(":") == 1):
        raise ManifestError(f"{folder_name}/manifest.json: 'consumes.subscriptions' must be "
                            f"'apps.{folder_name}.<module>:<function>'")
    return tuple(events), entry


def _aliases(folder_name: str, data: dict, key: str) -> tuple[Alias, ...]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ManifestError(f"{folder_name}/manifest.json: '{key}' must map old paths to this app's paths")
    try:
        return tuple(parse_alias(source, target, folder_name) for source, target in table.items())
    except AliasError as err:
        raise ManifestError(f"{folder_name}/manifest.json: {err}") from None


def read_manifest(folder_name: str) -> Manifest:
    path = APPS_FOLDER / folder_name / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ManifestError(f"{folder_name}/manifest.json: {err}") from None
    return _parse(folder_name, data)


def discover() -> list[Manifest]:
    """Every app folder with a manifest, the admin app (_default) first."""
    names = sorted((path.name for path in APPS_FOLDER.iterdir() if (path / "manifest.json").exists()),
                   key=lambda name: (name != "_default", name))
    return [read_manifest(name) for name in names]


def provided_page(role: str) -> str | None:
    """The path of the page some module provides for `role` (for example "twitch_login"), if any."""
    return next((path for manifest in discover() for name, path in manifest.provides if name == role), None)


def load_entry(entry: str):
    """'package.module:attribute' → the attribute."""
    module_name, _, attribute = entry.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _standalone_module(module_name: str):
    """Import apps.<app>.<module> from its file without importing the app's package first."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    _, app, *rest = module_name.split(".")
    spec = importlib.util.spec_from_file_location(module_name, APPS_FOLDER / app / ("/".join(rest) + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def standalone_entry(entry: str):
    """'apps.<app>.<module>:attribute' → the attribute, without importing the app's package."""
    module_name, _, attribute = entry.partition(":")
    return getattr(_standalone_module(module_name), attribute)


def module_schemas() -> list[tuple[Callable, list]]:
    """(define(db), its INDEXES) of every module that declares a schema, in discovery order."""
    schemas = []
    for manifest in discover():
        if manifest.schema:
            module_name, _, function = manifest.schema.partition(":")
            module = _standalone_module(module_name)
            schemas.append((getattr(module, function), list(getattr(module, "INDEXES", []))))
    return schemas


def import_errors() -> dict[str, str]:
    """Apps py4web failed to import (name → last line of the traceback)."""
    from py4web.core import Reloader

    return {name: error.strip().splitlines()[-1] for name, error in Reloader.ERRORS.items() if error}


NOT_MIGRATED = "not migrated yet: run waddlebot migrate"


def _not_migrated() -> bool:
    """True when the database lacks tables (a health check failing on a fresh database)."""
    from shared.db import get_db, missing_tables

    try:
        return bool(missing_tables(get_db()))
    except Exception:  # the database itself is down: the health check's own error says more
        return False


def module_status(manifest: Manifest, settings: Settings | None = None) -> dict:
    """{name, title, version, status: ready|not_configured|not_migrated|failed|degraded, detail, admin_pages}."""
    settings = settings or get_settings()
    result = {"name": manifest.name, "title": manifest.title, "version": manifest.version,
              "admin_pages": list(manifest.admin_pages), "status": "ready", "detail": ""}
    error = import_errors().get(manifest.name)
    missing = manifest.missing_settings(settings)
    if error:
        result.update(status="failed", detail=error)
    elif missing:
        result.update(status="not_configured", detail="missing " + ", ".join(missing))
    elif manifest.health:
        try:
            health = load_entry(manifest.health)()
        except Exception as err:  # a broken health check is a failed module, not a crash
            if _not_migrated():
                result.update(status="not_migrated", detail=NOT_MIGRATED)
            else:
                result.update(status="failed", detail=f"health check raised {err.__class__.__name__}: {err}")
        else:
            status = {"ok": "ready"}.get(health.status, health.status)
            result.update(status=status, detail=health.detail, data=health.data)
    return result
