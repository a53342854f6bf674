"""Shared CLI state: which manifest, which runtime; loads the plan once, lazily."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class App:
    file: str | None = None
    runtime: str | None = None  # --runtime / DEVSTACK_RUNTIME override the manifest
    context: str | None = None  # docker context
    _manifest: object = field(default=None, repr=False)

    @property
    def manifest(self):
        if self._manifest is None:
            from devstack import manifest

            self._manifest = manifest.load(manifest.find(explicit=self.file))
        return self._manifest

    def requested_runtime(self) -> str:
        return self.runtime or os.environ.get("DEVSTACK_RUNTIME") or self.manifest.runtime

    def plan(self, recheck_ports: set[str] | None = None, host: str | None = None):
        from devstack import plan

        return plan.build(self.manifest, host=host or plan.LOOPBACK, recheck_ports=recheck_ports)


def info(message: str) -> None:
    """Progress and notes go to stderr; stdout is for data. One write per line:
    services start in parallel threads, and print() writes the newline apart."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def relative(path: Path) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)
