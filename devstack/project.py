"""The project a command works on: which manifest, which runtime, its plan.

Below the CLI: the CLI, the pytest plugin and the operations all hold one
Project. The CLI only parses arguments into it and shows results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class Project:
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

    def select_runtime(self):
        from devstack import runtime

        return runtime.select(self.requested_runtime(), self)

    def plan(self, recheck_ports: set[str] | None = None, host: str | None = None, persist: bool = True):
        """persist=False: what the plan would be, writing nothing (status, doctor):
        credentials and ports not generated yet stay in memory only."""
        from devstack import plan

        return plan.build(self.manifest, host=host or plan.LOOPBACK, recheck_ports=recheck_ports, persist=persist)
