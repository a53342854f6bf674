"""One verdict of `devstack doctor`: what was checked, how it went, and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

LEVELS = ("ok", "warn", "fail")


@dataclass
class Finding:
    check: str  # the area: manifest, runtime, binary, ports, stack, state, leftovers, drift, fixtures, tools, clock, dns, loopback
    level: str  # ok | warn | fail
    subject: str  # a service, a tool, a path...
    message: str  # may hold more lines (a log's last lines)
    fix: str = ""  # the exact command or edit, where one exists

    def as_dict(self) -> dict:
        return asdict(self)


def ok(check: str, subject: str, message: str) -> Finding:
    return Finding(check, "ok", subject, message)


def warn(check: str, subject: str, message: str, fix: str = "") -> Finding:
    return Finding(check, "warn", subject, message, fix)


def fail(check: str, subject: str, message: str, fix: str = "") -> Finding:
    return Finding(check, "fail", subject, message, fix)
