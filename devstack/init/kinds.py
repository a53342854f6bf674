"""What init reads from the catalog: each kind's outputs, default env names, modes and options.

The catalog (devstack/services/*.py) is the one place that knows a kind; init
asks it instead of keeping a second table. Output names come from calling the
kind's own `outputs()` on a stand-in plan built from its option defaults.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from devstack.services import catalog

LOOKUP = re.compile(r"^\{\{\s*(\w+)\s*\}\}$")


def names() -> list[str]:
    return catalog.names()


def get(kind: str):
    return catalog.get(kind)


@cache
def outputs(kind: str) -> frozenset[str]:
    """Output names of a kind (what `{{ svc.<output> }}` may read), plus `enabled` and `mode`
    that every service has."""
    k = catalog.get(kind)
    if k is None:
        return frozenset()
    options = {key: _sample(option) for key, option in k.all_options().items()}
    ports = {name: port.container or 1 for name, port in k.ports.items()}
    svc = SimpleNamespace(name=kind, kind=k, mode="run", options=options, ports=ports, host="127.0.0.1",
                          state_dir=Path("/nonexistent"), seed=None, outputs={})
    stack = SimpleNamespace(project="app", root=Path("."), services={}, state_dir=Path("/nonexistent"), secrets={})
    try:
        values = k.outputs(svc, stack)
    except Exception:  # a kind whose outputs need more of a plan: its default env still names some
        values = {out for out in default_env(kind).values() if out}
    return frozenset(values) | {"enabled", "mode"}


def _sample(option):
    if option.default is not None:
        return option.default
    if option.type is list or (isinstance(option.type, tuple) and list in option.type):
        return []
    if option.type is dict:
        return {}
    if option.type is int:
        return 1
    return "x"


@cache
def default_env(kind: str) -> dict[str, str | None]:
    """The kind's default variable names -> the output each reads (None: a literal)."""
    k = catalog.get(kind)
    result = {}
    for var, expr in (k.default_env if k else {}).items():
        match = LOOKUP.match(str(expr))
        result[var] = match.group(1) if match else None
    return result


def default_literal(kind: str, var: str) -> str | None:
    k = catalog.get(kind)
    return str(k.default_env[var]) if k and var in k.default_env else None


def modes(kind: str) -> tuple[str, ...]:
    k = catalog.get(kind)
    return tuple(k.modes) if k else ()


def options(kind: str) -> frozenset[str]:
    k = catalog.get(kind)
    return frozenset(k.all_options()) if k else frozenset()


def choices(kind: str, option: str) -> tuple:
    k = catalog.get(kind)
    opt = k.all_options().get(option) if k else None
    return tuple(opt.choices) if opt else ()


def by_default_name(name: str) -> list[tuple[str, str | None]]:
    """Kinds whose default env has exactly this name: [(kind, output)]."""
    return [(kind, table[name]) for kind in names() if name in (table := default_env(kind))]
