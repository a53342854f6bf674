"""Expected failures: shown to the user as one clear line plus a hint, exit 2.

Anything else that escapes is a bug and gets a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class UserError(Exception):
    """A mistake the user can fix: what is wrong, and what to do about it."""

    exit_code = 2
    # Set when another program took a port devstack chose (not one the manifest
    # sets) between planning and starting: `up` moves that service's ports and
    # retries once.
    port_taken_by_race: str | None = None

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class NotReady(Exception):
    """A readiness probe failed this time; the message says what was seen.

    Here, at the bottom, because the catalog's ready() raises it and the
    runtimes wait on it: neither has to import the other for it."""


@dataclass
class Problem:
    """One validation problem, located in the manifest."""

    message: str
    path: str = ""  # dotted key path, e.g. services.db.pasword
    line: int | None = None
    hint: str | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        # A hostile manifest's key can be megabytes long: show the start of it.
        path = ".".join(part if len(part) <= 40 else part[:37] + "..." for part in self.path.split("."))
        key = f" {path}:" if path else ""
        text = f"{where}:{key} {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


@dataclass
class ManifestError(UserError):
    """Every problem found in one manifest, reported together."""

    filename: str
    problems: list[Problem] = field(default_factory=list)
    fix: str = "fix the lines above and run again"
    summary: str = ""  # instead of "N problems"

    def __post_init__(self):
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{self.filename}: {self.summary or f'{count} {noun}'}", self.fix)

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        lines += [f"  {p.render(self.filename)}" for p in self.problems]
        lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class ServiceFailed(UserError):
    """A service did not start or never became ready."""

    exit_code = 1


class NotWritable(UserError):
    """devstack could not write its state (a read-only file system, a full disk,
    no permission): names the path and the fix. `path` and `errno` are kept for
    callers that check (doctor)."""

    def __init__(self, path, errno: int | None, message: str, hint: str):
        super().__init__(message, hint)
        self.path = str(path)
        self.errno = errno
