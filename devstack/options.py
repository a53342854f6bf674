"""Validation of a kind's options: types, choices, unknown keys with suggestions."""

from __future__ import annotations

import difflib
from typing import Any

from devstack.services.base import Option

TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a mapping", float: "a number"}


def type_name(expected) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(TYPE_NAMES.get(t, t.__name__) for t in types)


def suggest(word: str, choices) -> str | None:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


def allowed(choices) -> str:
    return "allowed: " + ", ".join(sorted(str(c) for c in choices))


def check_value(option: Option, value: Any) -> str | None:
    """None when value fits the option, else the message."""
    types = option.type if isinstance(option.type, tuple) else (option.type,)
    # bool is an int in Python; YAML `yes` must not pass as a port number.
    ok = any(isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in types)
    if int in types and not ok and isinstance(value, str) and value.isdigit():
        ok = False
    if not ok:
        return f"expected {type_name(option.type)}, got {type(value).__name__} {value!r}"
    if option.choices and value not in option.choices:
        return f"{value!r} is not one of {', '.join(map(str, option.choices))}"
    bad = [c for c in option.forbid_chars if isinstance(value, str) and c in value]
    if bad:
        return f"must not contain {' '.join(repr(c) for c in bad)} (the image's entrypoint evaluates it)"
    return None
