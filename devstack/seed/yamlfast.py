"""YAML with line numbers, on libyaml's parser when it is there (fixtures can be big)."""

from __future__ import annotations

import yaml

from devstack import yamlpos

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_located(text: str) -> yamlpos.Located:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict = {}
        data = yamlpos._build(node, (), lines, loader) if node is not None else None
    finally:
        loader.dispose()
    return yamlpos.Located(data, lines)


def load(text: str):
    return yaml.load(text, Loader=_Loader)
