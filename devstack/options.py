"""Validation of a kind's options: types, choices, unknown keys with suggestions."""

from __future__ import annotations

import difflib
import re
from typing import Any

from devstack.services.base import Option

# C0/C1 control characters and Unicode line separators: a newline in a password
# would add a line to redis.conf; none of them belongs in a name, key or path.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")

TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a mapping", float: "a number"}


def shown(value, limit: int = 60) -> str:
    """repr() for messages, cut short: a hostile manifest can hold megabytes in one value."""
    return cut(repr(value), limit)


def cut(text, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(expected) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(TYPE_NAMES.get(t, t.__name__) for t in types)


def suggest(word: str, choices) -> str | None:
    word = str(word)
    if len(word) > 100:  # difflib is quadratic; nobody misspells a name that long
        return None
    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
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
        return f"expected {type_name(option.type)}, got {type(value).__name__} {shown(value)}"
    if option.choices and value not in option.choices:
        return f"{shown(value)} is not one of {', '.join(map(str, option.choices))}"
    if isinstance(value, str):
        found = (CONTROL_MULTILINE if option.multiline else CONTROL).search(value)
        if found:
            return (f"must not contain control characters (found {found.group()!r} at character {found.start() + 1}): "
                    "values end up in config files and command lines")
    bad = [c for c in option.forbid_chars if isinstance(value, str) and c in value]
    if bad:
        return f"must not contain {' '.join(repr(c) for c in bad)} (the image's entrypoint evaluates it)"
    return None
