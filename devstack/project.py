"""The project a command works on: which manifest, which runtime, its plan.

Below the CLI: the CLI, the pytest plugin and the operations all hold one
Project. The CLI only parses arguments into it and shows results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass
class Project:
    file: str | None = None
    runtime: str | None = None  # --runtime / DEVSTACK_RUNTIME override the manifest
    context: str | None = None  # docker context
    # An isolated stack of the same manifest (the pytest plugin's session stack):
    # its own project name and state dir, hence its own ports, secrets, data and
    # .env; the developer's stack of that manifest is never touched.
    project_name: str | None = None
    state_dir: Path | None = None
    _manifest: object = field(default=None, repr=False)

    @property
    def manifest(self):
        if self._manifest is None:
            from devstack import manifest

            loaded = load_manifest(manifest.find(explicit=self.file))
            if self.state_dir is not None:
                state = Path(self.state_dir)
                loaded = replace(loaded, project=self.project_name or loaded.project, state=state, env_file=state / ".env")
            self._manifest = loaded
        return self._manifest

    def manifest_path(self):
        """Where the manifest is, even when it does not load (`down` of a broken one)."""
        from devstack import manifest

        return manifest.find(explicit=self.file)

    def requested_runtime(self) -> str:
        return self.runtime or os.environ.get("DEVSTACK_RUNTIME") or self.manifest.runtime

    def select_runtime(self):
        from devstack import runtime

        return runtime.select(self.requested_runtime(), self)

    def plan(self, recheck_ports: set[str] | None = None, host: str | None = None, persist: bool = True,
             move_ports: set[str] | None = None):
        """persist=False: what the plan would be, writing nothing (status, doctor):
        credentials and ports not generated yet stay in memory only."""
        from devstack import plan

        return plan.build(self.manifest, host=host or plan.LOOPBACK, recheck_ports=recheck_ports, persist=persist,
                          move_ports=move_ports)


def load_manifest(path):
    """The manifest, or one ManifestError with every mistake in it: its own
    (types, names, ports, secrets), its env expressions (rendered against a
    preview of the plan) and its `seed:` entries (files, globs, paths)."""
    from devstack import manifest, plan, seed
    from devstack.errors import ManifestError

    loaded, problems = manifest.validate(path)
    problems = problems + plan.env_problems(loaded) + seed.check(loaded)
    if problems:
        # In file order; problems without a line (file-wide ones) first.
        problems.sort(key=lambda p: p.line or 0)
        raise ManifestError(str(loaded.path), problems)
    return loaded
