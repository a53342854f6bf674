"""One test run's view of its stack: which manifest, whose stack, who takes it down.

Every pytest process has a Run (made in pytest_configure, cheaply: nothing is
read until a test asks for a devstack fixture). The owner is the one pytest
process, or xdist's controller, which hands its run id and PID to the workers
(pytest_configure_node) so they all share one session stack.
"""

from __future__ import annotations

import os
import sys

from devstack.pytest_plugin import options

WORKER_KEY = "devstack_run"


class Run:
    def __init__(self, config):
        self.config = config
        given = getattr(config, "workerinput", {}).get(WORKER_KEY)
        self.worker = getattr(config, "workerinput", {}).get("workerid", "main")
        self.xdist = given is not None
        if given:
            self.run_id, self.owner_pid, self.owner = given["run_id"], given["owner_pid"], False
        else:
            self.run_id, self.owner_pid = os.urandom(4).hex(), os.getpid()
            self.owner = not hasattr(config, "workerinput")
        self._plan = None
        self._stack = None
        self._manifest = None

    # -- options -------------------------------------------------------------------------
    def option(self, name: str):
        return options.value(self.config, name)

    @property
    def attach(self) -> bool:
        return bool(self.option("devstack_attach"))

    @property
    def keep(self) -> bool:
        return bool(self.option("devstack_keep"))

    def manifest_path(self):
        if self._manifest is None:
            from devstack import manifest

            self._manifest = manifest.find(start=self.config.rootpath, explicit=self.option("devstack_manifest")).resolve()
        return self._manifest

    def for_workers(self) -> dict:
        return {"run_id": self.run_id, "owner_pid": self.owner_pid}

    # -- the stack -------------------------------------------------------------------------
    def stack(self):
        if self._stack is None:
            from devstack.session import SessionStack, Spec

            self._stack = SessionStack(Spec(str(self.manifest_path()), self.run_id, self.owner_pid,
                                            runtime=self.option("devstack_runtime")))
        return self._stack

    def plan(self):
        """The StackPlan the tests run against (brought up on first use)."""
        if self._plan is None:
            self._plan = self._attached() if self.attach else self.stack().acquire(self.progress)
        return self._plan

    def _attached(self):
        from devstack.errors import UserError
        from devstack.project import Project

        project = Project(file=str(self.manifest_path()), runtime=self.option("devstack_runtime"))
        rt = project.select_runtime()
        plan = project.plan(host=rt.public_host(), persist=False)
        missing = sorted({s.name for s in plan.running()} - rt.running_services(plan))
        if missing:
            raise UserError(f"--devstack-attach: {', '.join(missing)} of {plan.project} not running",
                            f"start the stack with `devstack up` (in {plan.root}), or drop --devstack-attach")
        return plan

    def progress(self, message: str) -> None:
        """Long work (the first start of the stack) is shown as it happens, not captured."""
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            with capture.global_and_fixture_disabled():
                sys.stderr.write(message + "\n")
        else:
            sys.stderr.write(message + "\n")

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> None:
        """The owner, as pytest ends: take the session stack down (or keep it and say where)."""
        if not self.owner or self.attach:
            return
        try:
            path = self.manifest_path()
        except Exception:  # noqa: BLE001 - no manifest: no test asked for the stack
            return
        from devstack.session import SessionStack, Spec

        stack = self._stack or SessionStack(Spec(str(path), self.run_id, self.owner_pid, runtime=self.option("devstack_runtime")))
        if not stack.state_dir.exists():
            return
        if self.keep and stack.read_state().get("status") == "up":
            from devstack.session import stop_process

            watcher = stack.read_state().get("watcher")
            if watcher:
                stop_process(watcher)
            self.progress(stack.describe())
            return
        stack.teardown(lambda message: None)
