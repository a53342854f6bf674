"""What init reads from the catalog: each kind's outputs, default env names, modes and options.

The catalog (devstack/services/*.py) is the one place that knows a kind; init
asks it instead of keeping a second table.
"""

from __future__ import annotations

import re
from functools import cache

from devstack.services import catalog
from devstack.services.base import COMMON_OUTPUTS

LOOKUP = re.compile(r"^\{\{\s*(\w+)\s*\}\}$")


def names() -> list[str]:
    return catalog.names()


def get(kind: str):
    return catalog.get(kind)


@cache
def outputs(kind: str) -> frozenset[str]:
    """Output names of a kind (what `{{ svc.<output> }}` may read): the ones it declares
    (`output_help`, which a catalog test keeps equal to what `outputs()` returns) and
    the ones every service has (`enabled`, `mode`)."""
    k = catalog.get(kind)
    if k is None:
        return frozenset()
    declared = set(k.output_help) or {out for out in default_env(kind).values() if out}
    return frozenset(declared) | frozenset(COMMON_OUTPUTS)


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
