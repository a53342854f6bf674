"""Hostile manifest texts shared by the unit and CLI tests."""

from __future__ import annotations


def alias_bomb(levels: str = "abcdefgh", fan: int = 9) -> str:
    """8 levels of 9 aliases (a "billion laughs"): ~400 bytes that expand to 9**8 values.
    Before the bounds it ran 60 s at 6.4 GB."""
    lines = ["  a: &a [" + ",".join(['"lol"'] * fan) + "]"]
    for prev, name in zip(levels, levels[1:], strict=False):
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * fan) + "]")
    lines.append("  z: [" + ",".join([f"*{levels[-1]}"] * fan) + "]")
    return "services: {cache: {kind: redis}}\nx:\n" + "\n".join(lines) + "\n"
