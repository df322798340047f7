"""Path aliases: old addresses (the seed systems') rewritten to a module's routes before py4web
routes the request.

A manifest's "aliases" maps an old path pattern to the app's own route pattern:

    "aliases": {"/twitch/webhook": "/twitch_webhooks/webhook",
                "/twitch/auth/refresh/<id>": "/twitch_auth/refresh/<id>",
                "/v1/<path:rest>": "/twitch_webhooks/v1/<rest>"}

`<name>` matches one path segment, `<path:name>` the rest of the path (last only). The rewrite is
internal: the client sees no redirect, so a POST (a Twitch webhook) keeps its method and body."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_PARAMETER = re.compile(r"<(?:(path):)?([A-Za-z_][A-Za-z0-9_]*)>")


class AliasError(ValueError):
    """An alias that cannot be applied; the message says which and why."""


@dataclass(frozen=True)
class Alias:
    source: str
    target: str
    _pattern: re.Pattern = field(repr=False, compare=False)

    def rewrite(self, path: str) -> str | None:
        """The target path for `path`, or None when the alias does not match it."""
        match = self._pattern.fullmatch(path)
        if match is None:
            return None
        return _PARAMETER.sub(lambda parameter: match.group(parameter.group(2)), self.target)

    @property
    def first_segment(self) -> str:
        return self.source.split("/")[1]


def parse_alias(source: str, target: str, app: str) -> Alias:
    """Validate one alias of `app`: both paths absolute, the target inside the app, every target
    parameter taken from the source."""
    if not (isinstance(source, str) and isinstance(target, str) and source.startswith("/")
            and target.startswith("/")):
        raise AliasError(f"alias {source!r} → {target!r}: both must be paths starting with '/'")
    if not (target == f"/{app}" or target.startswith(f"/{app}/")):
        raise AliasError(f"alias {source!r}: the target {target!r} must be one of this app's paths (/{app}/…)")
    pattern, names = _compile(source)
    wanted = [match.group(2) for match in _PARAMETER.finditer(target)]
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise AliasError(f"alias {source!r}: the target uses {', '.join(unknown)}, which the source does not capture")
    return Alias(source, target, pattern)


def _compile(source: str) -> tuple[re.Pattern, list[str]]:
    regex, names, position = "", [], 0
    for match in _PARAMETER.finditer(source):
        regex += re.escape(source[position:match.start()])
        is_rest, name = match.group(1), match.group(2)
        if name in names:
            raise AliasError(f"alias {source!r}: <{name}> appears twice")
        if is_rest and match.end() != len(source):
            raise AliasError(f"alias {source!r}: <path:{name}> must come last")
        regex += f"(?P<{name}>.+)" if is_rest else f"(?P<{name}>[^/]+)"
        names.append(name)
        position = match.end()
    regex += re.escape(source[position:])
    return re.compile(regex), names


class AliasTable:
    """Every alias of the loaded apps: parameterless ones by exact path, the others by first segment."""

    def __init__(self, aliases: Iterable[Alias]):
        self.exact: dict[str, str] = {}
        self.patterned: dict[str, list[Alias]] = {}
        for alias in aliases:
            if _PARAMETER.search(alias.source):
                self.patterned.setdefault(alias.first_segment, []).append(alias)
            else:
                self.exact[alias.source] = alias.target

    def __bool__(self) -> bool:
        return bool(self.exact or self.patterned)

    def rewrite(self, path: str) -> str | None:
        """The route path an old path stands for, or None when no alias matches."""
        target = self.exact.get(path)
        if target is not None:
            return target
        for alias in self.patterned.get(path.split("/", 2)[1] if path.startswith("/") else "", ()):
            target = alias.rewrite(path)
            if target is not None:
                return target
        return None


def check_conflicts(aliases_by_app: dict[str, tuple[Alias, ...]], app_names: Iterable[str]) -> None:
    """AliasError when two apps claim one old path, or an alias would hide an app's own routes."""
    apps, owners = set(app_names), {}
    for app, aliases in aliases_by_app.items():
        for alias in aliases:
            if alias.first_segment in apps:
                raise AliasError(f"{app}: alias {alias.source!r} would hide the routes of app {alias.first_segment!r}")
            if alias.source in owners:
                raise AliasError(f"alias {alias.source!r} is declared by both {owners[alias.source]} and {app}")
            owners[alias.source] = app
