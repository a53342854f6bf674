"""YAML loading that remembers where every key and value came from.

PyYAML's composed node tree carries line marks; we build plain Python values
and a side table {key path tuple: line} so validation can say file:line.
"""

from __future__ import annotations

import yaml

Path_ = tuple  # a key path such as ("services", "db", "version")


class Located:
    """Plain data plus the line of each key path (1-based)."""

    def __init__(self, data, lines: dict[Path_, int]):
        self.data = data
        self.lines = lines

    def line(self, path: Path_) -> int | None:
        # Fall back to the nearest parent that has a line.
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def _build(node, path: Path_, lines: dict, loader: yaml.SafeLoader):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            child = path + (key,)
            lines[child] = key_node.start_mark.line + 1
            result[key] = _build(value_node, child, lines, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load(text: str, filename: str = "<string>") -> Located:
    """Parse one YAML document; raises yaml.YAMLError with marks on bad syntax."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _build(node, (), lines, loader) if node is not None else None
    finally:
        loader.dispose()
    return Located(data, lines)
