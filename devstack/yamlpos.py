"""YAML loading that remembers where every key and value came from.

PyYAML's composed node tree carries line marks; we build plain Python values
and a side table {key path tuple: line} so validation can say file:line.

Bounded for hostile input: nesting deeper than MAX_DEPTH is refused before
libyaml composes it (its composer recurses in C and crashes the process on
~50,000 nested `[`), and building stops after a node budget proportional to
the text, so aliases cannot expand 400 bytes into gigabytes (a "billion laughs").
"""

from __future__ import annotations

import re
from itertools import accumulate

import yaml

Path_ = tuple  # a key path such as ("services", "db", "version")

MAX_DEPTH = 100  # manifests nest ~6 levels; fixtures' JSON values rarely 20
MERGE_TAG = "tag:yaml.org,2002:merge"
_BRACKET = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class Located:
    """Plain data plus the line of each key path (1-based)."""

    def __init__(self, data, lines: dict[Path_, int], duplicates: list[tuple[Path_, int]] | None = None):
        self.data = data
        self.lines = lines
        self.duplicates = duplicates or []  # (key path, line) of a key given twice in one mapping

    def line(self, path: Path_) -> int | None:
        # Fall back to the nearest parent that has a line.
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


class TooBig(yaml.MarkedYAMLError):
    """Nesting or alias expansion past the bounds (a YAMLError, so callers report it like bad syntax)."""


def _error(problem: str, node=None) -> yaml.MarkedYAMLError:
    return yaml.constructor.ConstructorError(None, None, problem, node.start_mark if node is not None else None)


class _Builder:
    def __init__(self, loader, budget: int):
        self.loader = loader
        self.budget = budget
        self.lines: dict[Path_, int] = {}
        self.duplicates: list[tuple[Path_, int]] = []

    def spend(self, node) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise TooBig(None, None, "the document expands to too many values (aliases of aliases?); "
                         "write the values out or use fewer aliases", node.start_mark)

    def build(self, node, path: Path_, depth: int = 0):
        self.spend(node)
        if depth > MAX_DEPTH:
            raise TooBig(None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            merged: list = []
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:  # `<<: *defaults`: keys given here win
                    merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                    continue
                key = self.key(key_node)
                child = path + (key,)
                line = key_node.start_mark.line + 1
                if key in result:
                    self.duplicates.append((child, line))
                self.lines[child] = line
                result[key] = self.build(value_node, child, depth + 1)
            for source in merged:
                if not isinstance(source, yaml.MappingNode):
                    raise _error("`<<` merges a mapping (or a list of mappings) into this one", source)
                for key, value in self.build(source, path, depth + 1).items():
                    result.setdefault(key, value)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def key(self, node):
        if not isinstance(node, yaml.ScalarNode):
            what = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            raise _error(f"a key must be a plain name or value, not {what}", node)
        self.spend(node)
        return self.scalar(node)

    def scalar(self, node):
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - `!!int x`, `!!bool x`, `!!timestamp x`, 2001-13-45, 5,000 digits: PyYAML's constructors raise anything
            shown = repr(node.value) if len(node.value) <= 60 else repr(node.value[:57] + "...")
            raise _error(f"cannot read {shown} as {node.tag.rsplit(':', 1)[-1]}: {str(exc)[:200]}", node) from None


def _flow_depth_bound(text: str) -> int:
    """An upper bound of the nesting depth, in C-speed passes: `[`/`{` depth
    (quotes ignored, so it can only overcount) plus the longest line (block
    nesting needs indentation or `- ` per level)."""
    steps = map(_STEP.__getitem__, _BRACKET.findall(text))
    flow = max(accumulate(steps), default=0)
    return flow + max(map(len, text.splitlines()), default=0) // 2


def _check_depth(text: str, loader_class) -> None:
    """Refuse nesting past MAX_DEPTH from the event stream (no recursion), before composing."""
    if _flow_depth_bound(text) <= MAX_DEPTH:
        return
    loader = loader_class(text)
    try:
        depth = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise TooBig(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:  # PyYAML 6.0.4+ has a nesting limit of its own
        if "nesting depth" not in str(getattr(exc, "problem", "") or exc):
            raise
        raise TooBig(None, None, f"nested deeper than {MAX_DEPTH} levels", getattr(exc, "problem_mark", None)) from None
    finally:
        loader.dispose()


def load(text: str, filename: str = "<string>", budget_per_char: int = 1) -> Located:
    """Parse one YAML document; raises yaml.YAMLError with marks on bad syntax,
    bad values, or nesting/expansion past the bounds.

    budget_per_char: values allowed per character of text (plus 10,000): a
    document without aliases never needs more than one per character."""
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _check_depth(text, loader_class)
    loader = loader_class(text)
    builder = _Builder(loader, budget_per_char * len(text) + 10_000)
    try:
        node = loader.get_single_node()
        data = builder.build(node, ()) if node is not None else None
    except RecursionError:  # the pure-Python composer (no libyaml) on deep input
        raise TooBig(None, None, f"nested deeper than {MAX_DEPTH} levels", None) from None
    finally:
        loader.dispose()
    return Located(data, builder.lines, builder.duplicates)
