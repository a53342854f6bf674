"""The marks that tie a process to its project, whatever happened to its pid file.

Every process devstack starts carries them in its environment, from its first
instruction, and its children inherit them: `down` and the next `up` find a
process of the project by them even when no pid file names it (an `up` killed
between spawn and pid file, a full disk). Reading another process's
environment (/proc/<pid>/environ) needs the same user or root: devstack
starts its servers as itself, or as root for an unprivileged account.
"""

from __future__ import annotations

from pathlib import Path

OWNER_ENV = "DEVSTACK_OWNER"  # the project's state dir, absolute
SERVICE_ENV = "DEVSTACK_SERVICE"  # the service it was started for


def owner_mark(state_dir) -> str:
    """The value of OWNER_ENV for a project."""
    return str(Path(state_dir).resolve())


def marked_env(env: dict, state_dir, service: str | None = None) -> dict:
    """env plus the marks that tie a process to its project (and service)."""
    marks = {OWNER_ENV: owner_mark(state_dir)}
    if service:
        marks[SERVICE_ENV] = service
    return {**env, **marks}
