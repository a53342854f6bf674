"""Program versions: asking a program for its version, and version ranges (`>= 20`)."""

from __future__ import annotations

import functools
import re
import subprocess

_DOTTED = re.compile(r"(?<![\d.])(\d+(?:\.\d+)+)")  # 7.0.15, v20.1.0, go1.22.1
_SINGLE = re.compile(r"(?<![\w.])v?(\d+)(?=[\s,)]|$)")  # "mailpit v1" style


def parse(text: str) -> str | None:
    """The first version-looking token of a program's output: "v20.11.1" -> "20.11.1"."""
    for line in text.splitlines():
        match = _DOTTED.search(line) or _SINGLE.search(line)
        if match:
            return match.group(1)
    return None


@functools.cache
def probe(path: str, args: tuple[str, ...] = ("--version",)) -> str | None:
    """`path args...` -> its version, None if it prints none (or cannot run)."""
    if not args:
        return None
    try:
        out = subprocess.run([path, *args], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse(out.stdout) or parse(out.stderr)


def parts(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def debian_upstream(version: str) -> str:
    """A Debian package version's upstream part: "7:5.1.4-0+deb12u1" -> "5.1.4"."""
    version = version.split(":", 1)[-1]
    return re.match(r"[\d.]*", version).group(0).rstrip(".") or version


CLAUSE = re.compile(r"(>=|<=|==|~=|\^|>|<)?\s*v?(\d+(?:\.\d+)*)$")


def satisfies(version: str, spec: str) -> bool:
    """Comma-separated clauses, all must hold: >=, <=, >, <, == (the given parts only:
    "7.0.15" is ==7), ~= and ^ (at least that, same major). "*" or "" is any."""
    if spec.strip() in ("", "*"):
        return True
    have = parts(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = CLAUSE.match(clause)
        if not match:
            return False
        op, want = match.group(1) or "==", parts(match.group(2))
        head = have[: len(want)]
        ok = {
            ">=": have >= want, "<=": head <= want, ">": head > want, "<": have < want, "==": head == want,
            "~=": have >= want and have[:1] == want[:1], "^": have >= want and have[:1] == want[:1],
        }[op]
        if not ok:
            return False
    return True


def lowest_major(spec: str) -> int | None:
    """The smallest major version a range accepts (">= 20" -> 20, "^18.2" -> 18), None if unbounded below."""
    majors = [parts(m.group(2))[0] for c in spec.split(",") if (m := CLAUSE.match(c.strip())) and (m.group(1) or "==") in (">=", ">", "==", "~=", "^")]
    if not majors:
        return None
    major = max(majors)
    bumped = any((m := CLAUSE.match(c.strip())) and m.group(1) == ">" and parts(m.group(2)) == (major,) for c in spec.split(","))
    return major + 1 if bumped else major
