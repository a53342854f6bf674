"""The registry of service kinds: name -> Kind, found through the entry-point
group `devstack.kinds` (devstack's own and any installed package's).

Fast path: devstack's own kinds are the table below (the same entries as
pyproject.toml declares; a test keeps the two equal), imported one module at a
time as a manifest names them. Installed packages' entry points are read only
when a name is not devstack's own or the whole list is wanted (`devstack
kinds`, a "did you mean" hint): that scan reads every installed distribution's
metadata, which would cost each `devstack env` tens of milliseconds.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import NamedTuple

from devstack.errors import UserError
from devstack.services.base import Kind

GROUP = "devstack.kinds"
ORIGIN = "devstack"  # the origin of devstack's own kinds
BUILTIN = {
    "postgres": "devstack.services.postgres:Postgres",
    "redis": "devstack.services.redis:Redis",
    "minio": "devstack.services.minio:Minio",
    "mailpit": "devstack.services.mailpit:Mailpit",
    "stripe": "devstack.services.stripe:Stripe",
    "coturn": "devstack.services.coturn:Coturn",
    "livekit": "devstack.services.livekit:Livekit",
    "flags": "devstack.services.stubkinds:Flags",
    "posthog": "devstack.services.stubkinds:Posthog",
    "sentry": "devstack.services.stubkinds:Sentry",
    "email_api": "devstack.services.stubkinds:EmailApi",
}


class Entry(NamedTuple):  # NamedTuple, not a dataclass: ~1 ms less in every command's start-up
    """One kind as registered: where its class is and which distribution gave it."""

    name: str
    target: str  # "module:Class"
    origin: str  # "devstack", or the plugin's distribution name
    version: str = ""


class Ignored(NamedTuple):
    """An entry point that lost to another of the same name."""

    entry: Entry
    reason: str


@cache
def _plugins() -> tuple[dict[str, Entry], tuple[Ignored, ...]]:
    """Other packages' kinds, from their entry points (first of a name wins)."""
    from importlib.metadata import entry_points

    found: dict[str, Entry] = {}
    ignored: list[Ignored] = []
    names: dict[int, tuple[str, str]] = {}  # id(distribution) -> (name, version): METADATA is parsed once each
    own = set(BUILTIN.values())
    for point in entry_points(group=GROUP):
        if point.value in own:  # devstack's own, maybe from an older install's metadata: the table rules
            continue
        dist = getattr(point, "dist", None)
        if id(dist) not in names:
            names[id(dist)] = (dist.metadata["Name"], dist.version) if dist is not None else ("?", "")
        origin, version = names[id(dist)]
        if origin == ORIGIN:  # a kind an older devstack had: not this one's
            continue
        entry = Entry(point.name, point.value, origin, version)
        if point.name in BUILTIN:
            ignored.append(Ignored(entry, f"`{point.name}` is one of devstack's own kinds"))
        elif point.name in found and found[point.name].target != entry.target:
            ignored.append(Ignored(entry, f"`{point.name}` is already given by {found[point.name].origin}"))
        else:
            found.setdefault(point.name, entry)
    return found, tuple(ignored)


def entry(name: str, scan: bool = True) -> Entry | None:
    if name in BUILTIN:
        return Entry(name, BUILTIN[name], ORIGIN)
    return _plugins()[0].get(name) if scan else None


def entries() -> list[Entry]:
    """Every kind: devstack's own first, then the plugins' by name."""
    plugins = _plugins()[0]
    return [Entry(n, t, ORIGIN) for n, t in BUILTIN.items()] + [plugins[n] for n in sorted(plugins)]


def ignored() -> tuple[Ignored, ...]:
    return _plugins()[1]


@cache
def _load(item: Entry) -> Kind:
    module, _, attr = item.target.partition(":")
    try:
        found = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # noqa: BLE001 - a broken plugin: say which, never a traceback
        raise _broken(item, f"{type(exc).__name__}: {exc}") from None
    if not (isinstance(found, type) and issubclass(found, Kind)):
        raise _broken(item, f"{item.target} is not a devstack.services.base.Kind subclass")
    if found.name != item.name:
        raise _broken(item, f"{item.target} is kind `{found.name}`, registered as `{item.name}`")
    return found()


def _broken(item: Entry, why: str) -> UserError:
    if item.origin == ORIGIN:
        return UserError(f"kind {item.name} cannot be loaded: {why}")
    return UserError(f"kind {item.name} (from {item.origin}) cannot be loaded: {why}",
                     f"fix or uninstall {item.origin} (`pip uninstall {item.origin}`)")


def get(name) -> Kind | None:
    """The kind of that name; None if no installed package gives one."""
    if not isinstance(name, str):
        return None
    item = entry(name)
    return _load(item) if item else None


def origin(name: str) -> str:
    """Where a kind comes from: "devstack", or its plugin's distribution name."""
    item = entry(name)
    return item.origin if item else ""


def names() -> list[str]:
    return [e.name for e in entries()]


def kinds() -> dict[str, Kind]:
    """Every kind, loaded (a plugin that fails to load raises its UserError)."""
    return {e.name: _load(e) for e in entries()}
