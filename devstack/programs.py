"""Where programs are installed on this machine: PATH, the usual install dirs
(globs, newest version first) and the bin dirs inside PyPI packages.

Plain lookups with no error handling and no knowledge of kinds, below both the
catalog and the runtimes: runtime/binaries.py turns a miss into an error with
install hints, and a readiness probe may look for a client (psql) here.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
from pathlib import Path


def _version_key(path: str):
    return [int(n) for n in re.findall(r"\d+", path)] or [0]


def search_dirs(dirs: tuple[str, ...] = (), pip_dirs: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """PATH, then each glob of `dirs` (newest version first), then (package, bin dir inside it)."""
    found = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for pattern in dirs:
        found += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    for package, sub in pip_dirs:
        base = package_dir(package)
        if base:
            found.append(str(base / sub))
    return found


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


def executable(path) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def first(names: tuple[str, ...], dirs: list[str]) -> str | None:
    """The first of `names` found in `dirs` (dir order first, then name order)."""
    for directory in dirs:
        for name in names:
            candidate = os.path.join(directory, name)
            if executable(candidate):
                return candidate
    return None


def dir_holding(names: tuple[str, ...], dirs: list[str], prefer_version: str | None = None) -> Path | None:
    """A dir holding all of `names` (initdb and postgres together); one whose path
    names the preferred major version when there is one."""
    found = [Path(d) for d in dirs if all(executable(os.path.join(d, n)) for n in names)]
    if prefer_version:
        major = str(prefer_version).split(".")[0]
        for d in found:
            if f"/{major}/" in f"{d}/" or re.search(rf"(postgresql@|postgresql-){major}\b", str(d)):
                return d
    return found[0] if found else None
