"""Stripe's request parameters: form-encoded brackets into nested values, plus typed reads.

The SDKs send `items[0][price]=price_1`, `metadata[plan]=pro`, `expand[0]=customer`
(stripe-python, stripe-node) or `expand[]=customer` (older clients, curl). Every
value arrives as a string; the typed reads below turn them into Stripe's types
and answer bad ones with Stripe's parameter errors. An empty string unsets a
field, as in Stripe (`metadata[plan]=` removes that key).
"""
from __future__ import annotations

import re
from typing import Any

from devstack.stubs.stripe.errors import invalid, missing_param

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def parse_pairs(pairs) -> dict:
    """[(key, value)] in bracket notation -> nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (_SEGMENT.findall("[" + rest) if rest else [])
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `a[]`: the next list position
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    items = {k: _lists(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class Params:
    """Typed access to one call's parameters; `prefix` names nested ones in errors (`items[0][price]`)."""

    def __init__(self, data: dict | None, prefix: str = ""):
        self.data = data if isinstance(data, dict) else {}
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default=None):
        return self.data.get(key, default)

    def given(self, key: str) -> bool:
        """Present and not the empty string (which means `unset`)."""
        return key in self.data and self.data[key] != ""

    def str(self, key: str, default: str | None = None, required: bool = False, choices: tuple = ()) -> str | None:
        value = self.data.get(key)
        if value in (None, ""):
            if required:
                raise missing_param(self.name(key))
            return default
        if isinstance(value, (dict, list)):
            raise invalid(f"Invalid string: {self.name(key)} must be a string", self.name(key))
        value = value if isinstance(value, str) else _text(value)
        if choices and value not in choices:
            raise invalid(f"Invalid {self.name(key)}: must be one of {', '.join(choices)}", self.name(key))
        return value

    def int(self, key: str, default: int | None = None, required: bool = False, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value in (None, ""):
            if required:
                raise missing_param(self.name(key))
            return default
        try:
            number = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value), 10)
        except ValueError:
            raise invalid(f"Invalid integer: {value}", self.name(key), "parameter_invalid_integer") from None
        if minimum is not None and number < minimum:
            raise invalid(f"Invalid {self.name(key)}: must be at least {minimum}", self.name(key))
        return number

    def bool(self, key: str, default: bool | None = None) -> bool | None:
        value = self.data.get(key)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise invalid(f"Invalid boolean: {value}", self.name(key))

    def timestamp(self, key: str, now: int, allow_now: bool = False) -> int | None:
        value = self.data.get(key)
        if allow_now and value == "now":
            return now
        return self.int(key)

    def sub(self, key: str) -> "Params":
        value = self.data.get(key)
        if value not in (None, "") and not isinstance(value, dict):
            raise invalid(f"Invalid object: {self.name(key)} must be a hash", self.name(key))
        return Params(value or {}, self.name(key))

    def list(self, key: str) -> list:
        value = self.data.get(key)
        if value in (None, ""):
            return []
        if isinstance(value, dict):  # sparse indices, e.g. items[1] only
            return list(value.values())
        if not isinstance(value, list):
            raise invalid(f"Invalid array: {self.name(key)} must be an array", self.name(key))
        return value

    def items(self, key: str) -> list["Params"]:
        return [Params(v, f"{self.name(key)}[{i}]") for i, v in enumerate(self.list(key))]

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if isinstance(value, str) and value:
            return [value]
        return [str(v) for v in self.list(key)]

    def metadata(self, current: dict | None = None, key: str = "metadata") -> dict:
        """Merge like Stripe: keys set, `key=` removes one, `metadata=` clears all."""
        if key not in self.data:
            return dict(current or {})
        value = self.data[key]
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {self.name(key)} must be a hash", self.name(key))
        merged = dict(current or {})
        for k, v in value.items():
            if v in ("", None):
                merged.pop(k, None)
            else:
                merged[k] = _text(v)
        if len(merged) > 50:
            raise invalid("Metadata can have up to 50 keys.", self.name(key))
        return merged

    def update(self, obj: dict, *keys: str) -> None:
        """Copy plain string fields given in the call onto obj (`` unsets to null)."""
        for key in keys:
            if key in self.data:
                obj[key] = self.str(key)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
