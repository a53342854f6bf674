"""YAML with line numbers, on libyaml's parser when it is there (fixtures can be big)."""

from __future__ import annotations

from devstack import yamlpos


def load_located(text: str) -> yamlpos.Located:
    # Same bounds as the manifest (nesting, alias expansion); fixtures may use
    # aliases more freely, so four values per character.
    return yamlpos.load(text, budget_per_char=4)
