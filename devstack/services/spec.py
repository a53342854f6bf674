"""What a kind hands the native runtime, and what it may ask of it.

A kind declares; the runtime executes. `Kind.native(svc, stack, host)` builds
a NativeSpec out of the plain data types below (argv, files with their modes,
first-run steps, the binaries it wants with install hints) and writes nothing
itself: devstack/runtime/ looks the binaries up, creates the dirs, writes the
files and spawns the process. What a kind cannot know alone (where a program
is installed, which account runs a server that refuses root, where that
account's data lives) it asks the `host`, an object the runtime implements.

Nothing here imports devstack.runtime: imports run runtime -> services.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from devstack.plan import ServicePlan, StackPlan


@dataclass(frozen=True)
class Wanted:
    """A program a kind looks for, and how to get it when it is missing."""

    names: tuple[str, ...]  # executable names, first found wins
    what: str  # e.g. "PostgreSQL server (initdb, postgres)"
    apt: str = ""
    brew: str = ""
    pip: str = ""  # a PyPI package that bundles the program
    dirs: tuple[str, ...] = ()  # globs of extra dirs (newest version first after sorting)
    pip_dirs: tuple[tuple[str, str], ...] = ()  # (import name, bin dir inside the package)
    option: str = "bin"  # the manifest option that names it
    # What `devstack doctor` asks of it (the kind knows; doctor runs and compares):
    version_args: tuple[str, ...] = ("--version",)  # argv after the program that prints its version; () = none
    version_of: str = ""  # which of `names` to ask (default: the first)
    versions: str = ""  # the range the kind works with, e.g. "==15" (same major); "" = any
    elsewhere: str = ""  # where to get it when the platform's package is missing or too old (an upstream repo)


@dataclass
class FileSpec:
    """A file written before each start (config, password file...)."""

    path: Path
    text: str
    mode: int = 0o600
    owned_by_user: bool = False  # chown to the spec's run-as user (e.g. initdb's pwfile)


@dataclass
class InitStep:
    """A first-run command (initdb...), run as the spec's user until `creates` exists."""

    argv: list[str]
    creates: Path
    description: str = ""
    cleanup: list[Path] = field(default_factory=list)  # removed after the step (pwfiles)
    reset_on_failure: Path | None = None  # emptied when the step fails, so a retry starts clean
    display: str = ""  # what the log shows instead of argv (e.g. for `sh -c SCRIPT`)


@dataclass(frozen=True)
class DataDir:
    """Where a service keeps its data, as the host placed it (see Host.data_dir).

    Only a description: the runtime makes `path` (owned by the spec's user),
    the `link` to it and the `marker` file when the service starts.
    """

    path: Path
    volumes: tuple[Path, ...] = ()  # outside .devstack/<service>: deleted by `down --volumes`
    link: Path | None = None  # made a symlink to `path` (.devstack/<service>/data)
    marker: tuple[Path, str] | None = None  # (file, text) telling whoever looks whose data this is


@dataclass
class NativeSpec:
    """How one service runs as a local process; built by Kind.native()."""

    argv: list[str]
    implementation: str  # shown in status/progress, e.g. "postgres 15 (/usr/lib/postgresql/15/bin)"
    version: str = ""  # the program's version when the kind asked it already (doctor then needs no probe)
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this user when devstack runs as root (services that refuse root)
    cwd: Path | None = None
    data: DataDir | None = None  # made (with its link and marker) before the dirs below
    dirs: list[Path] = field(default_factory=list)  # created before start (owned by `user` if set)
    files: list[FileSpec] = field(default_factory=list)
    init: list[InitStep] = field(default_factory=list)
    # Called (repeatedly, until it stops raising NotReady) after the process is
    # spawned and before the kind's ready() probe: create databases/buckets,
    # restore a snapshot. Must be idempotent.
    bootstrap: Callable[[], None] | None = None
    # Called before the process is stopped by `down`, while it still answers
    # (e.g. moto keeps S3 in memory only: dump the objects to the state dir).
    before_stop: Callable[[], None] | None = None
    stop_signal: int = signal.SIGTERM
    # Data kept outside .devstack/<service> (deleted by `down --volumes`), besides data.volumes.
    volumes: list[Path] = field(default_factory=list)
    # Lock/pid files the server writes itself (first line: its PID). Left behind
    # by a crash they block the next start; removed if that PID is not alive.
    stale_pidfiles: list[Path] = field(default_factory=list)
    # Throwaway paths outside .devstack (e.g. a unix socket dir), removed by every `down`.
    scratch: list[Path] = field(default_factory=list)
    hint: str = ""  # shown when the service fails to start
    ready_timeout: float = 60.0
    # Slow to start (a Python server with a long import): spawned before the
    # others, so the stack's slowest service starts first.
    start_first: bool = False

    def all_volumes(self) -> list[Path]:
        return [*(self.data.volumes if self.data else ()), *self.volumes]


class Host:
    """What the native runtime offers a kind while it builds its NativeSpec.

    devstack.runtime implements it (runtime/host.py); a test can pass its own.
    Every method only looks: none creates or writes anything, so building a
    spec (as `status`, `doctor` and `down` do) leaves the machine as it was.
    """

    def find(self, wanted: Wanted, configured: str | None = None, required: bool = True, stub_ok: bool = False) -> str | None:
        """Absolute path of the program (`configured`: the manifest's path for it);
        a UserError with install hints when it is required and missing, else None."""
        raise NotImplementedError

    def find_dir(self, wanted: Wanted, configured: str | None = None, prefer_version: str | None = None) -> Path:
        """A directory holding all of wanted.names (initdb and postgres together)."""
        raise NotImplementedError

    def run_as(self, preferred: str) -> str | None:
        """The account to run a server that refuses root: None unless devstack
        runs as root, then `preferred` if it exists, else nobody."""
        raise NotImplementedError

    def data_dir(self, svc: ServicePlan, stack: StackPlan, user: str | None) -> DataDir:
        """Where the service's data lives when it runs as `user`: .devstack/<service>/data,
        or a dir under the data root the user can reach (devstack running as root)."""
        raise NotImplementedError

    def cache_dir(self, user: str | None) -> Path:
        """Machine-wide cache of things slow to make (an initdb'd cluster), writable by `user`."""
        raise NotImplementedError

    def optional_for(self, svc: ServicePlan, wanted: Wanted) -> str | None:
        """The real program for `mode: run` when one is installed; None: run devstack's stand-in."""
        return self.find(wanted, svc.options["bin"], required=False) if svc.mode == "run" else None


# -- helpers for kinds (pure: they compute, never touch the machine) --------------------


def python_module(module: str, *args) -> list[str]:
    """argv running a Python module (a stand-in server, a plugin's own server) with this Python."""
    return [sys.executable, "-m", module, *[str(a) for a in args]]


def python_env() -> dict[str, str]:
    """Env that lets a child import devstack even when it runs from a source checkout."""
    import devstack

    src = str(Path(devstack.__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": src + (os.pathsep + current if current else ""), "PYTHONUNBUFFERED": "1"}


def short_dir(*parts) -> Path:
    """/tmp/devstack-<8 hex>: for unix sockets, whose paths must stay under ~107 bytes."""
    import hashlib

    return Path("/tmp") / ("devstack-" + hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:8])
