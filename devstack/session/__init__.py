"""A test run's own stack of a project: the pytest plugin's session stack.

Isolated from the developer's stack of the same manifest: its project name is
`<project>-test-<run id>` and its state dir `.devstack/test-runs/<run id>/`, so
it gets its own ports, credentials, data, containers and .env, and two test
runs of one project at once never meet. It is seeded from the manifest's
fixtures like `devstack up`.

One stack per test run, however many pytest-xdist workers: the first process
that needs it brings it up under a file lock and records it in `session.json`
beside the lock; the others read that. The run's owner (the one pytest
process, or xdist's controller) takes it down at the end. Before anything
starts, a small watcher process (`devstack.session.watcher`, in a session of
its own) begins watching the owner: if the owner dies first, even by SIGKILL,
the watcher takes the stack down.

Native runtime: `operations.up`/`down` on the isolated Project. Docker runtime:
containers through testcontainers (devstack.session.containers), stand-ins as
host processes as in `devstack up`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devstack.errors import UserError

RUNS_DIR = "test-runs"
STATE_FILE = "session.json"
LOCK_FILE = "session.lock"
WATCHER_LOG = "watcher.log"
LABEL = "dev.devstack.session"  # on every container of a session: <project>-test-<run id>
UP_WAIT = 900.0  # a worker waits this long for another to bring the stack up (first image builds, slow seeds)


def new_run_id() -> str:
    return secrets.token_hex(4)


def runs_dir(manifest_path: str | Path) -> Path:
    return Path(manifest_path).resolve().parent / ".devstack" / RUNS_DIR


@dataclass
class Spec:
    """What identifies a session; travels to xdist workers and to the watcher as a dict."""

    manifest: str  # absolute path of devstack.yaml
    run_id: str
    owner_pid: int  # the process whose end ends the session
    runtime: str | None = None  # requested; None: DEVSTACK_RUNTIME or the manifest's
    context: str | None = None  # docker context

    @property
    def state_dir(self) -> Path:
        return runs_dir(self.manifest) / self.run_id


class SessionStack:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.state_dir = spec.state_dir
        self._project = None

    # -- identity ----------------------------------------------------------------------
    @property
    def project(self):
        """The isolated Project: the manifest's services under a name and state dir of this run."""
        if self._project is None:
            from devstack import manifest
            from devstack.project import Project

            base = manifest.load(Path(self.spec.manifest))
            self._project = Project(file=self.spec.manifest, runtime=self.spec.runtime, context=self.spec.context,
                                    project_name=f"{base.project}-test-{self.spec.run_id}", state_dir=self.state_dir)
        return self._project

    @property
    def name(self) -> str:
        return self.project.manifest.project

    # -- shared state ------------------------------------------------------------------
    def read_state(self) -> dict:
        from devstack.fsutil import read_json

        return read_json(self.state_dir / STATE_FILE)

    def _write_state(self, state: dict) -> None:
        from devstack.fsutil import write_private

        write_private(self.state_dir / STATE_FILE, json.dumps(state, indent=1) + "\n")

    def _lock(self, wait: float = UP_WAIT, progress=None):
        from devstack.fsutil import private_dir
        from devstack.lock import project_lock

        private_dir(self.state_dir.parent.parent)  # .devstack/ is 0700: it holds generated passwords
        on_wait = (lambda _: progress("devstack: another test process is starting the test stack; waiting for it")) if progress else None
        return project_lock(self.state_dir, wait=wait, on_wait=on_wait, name=LOCK_FILE)

    # -- up ----------------------------------------------------------------------------
    def acquire(self, progress):
        """The session's StackPlan: brought up by the first caller, read by the others."""
        with self._lock(progress=progress):
            state = self.read_state()
            if state.get("status") == "up":
                return self._plan(state)
            if state.get("status") == "failed":
                raise UserError(state.get("error") or "the test stack failed to start", state.get("hint"))
            if state.get("status") == "starting":
                # Whoever was starting it died holding the lock: what it started is the watcher's to clean.
                raise UserError("the test stack's start was interrupted", f"see {self.state_dir / WATCHER_LOG}")
            self._write_state({"status": "starting", "spec": asdict(self.spec), "name": self.name})
            watcher = start_watcher(self.state_dir, self.spec.owner_pid)
            base = {"spec": asdict(self.spec), "name": self.name, "watcher": watcher}
            self._write_state({"status": "starting", **base})
            try:
                state = {**base, **self._up(progress, base)}
            except BaseException as exc:
                failed = {**base, "status": "failed", "error": getattr(exc, "message", None) or str(exc) or type(exc).__name__,
                          "hint": getattr(exc, "hint", None)}
                self._write_state(failed)
                raise
            self._write_state(state)
            return self._plan(state)

    def _up(self, progress, base: dict) -> dict:
        runtime = self.project.select_runtime()
        self._write_state({"status": "starting", **base, "runtime": runtime.name})  # what the watcher cleans up
        if runtime.name == "docker":
            from devstack.session import containers

            plan, ports, ids = containers.up(self.project, runtime, progress, label=(LABEL, self.name))
            return {"status": "up", "runtime": "docker", "host": runtime.public_host(), "ports": ports, "containers": ids}
        from devstack import operations

        operations.up(self.project, progress)
        return {"status": "up", "runtime": runtime.name, "host": runtime.public_host(), "ports": {}}

    def _plan(self, state: dict):
        """The plan the stack was started with (docker: with the host ports testcontainers picked)."""
        plan = self.project.plan(host=state.get("host"), persist=False)
        if state.get("ports"):
            from devstack.session.containers import apply_ports

            apply_ports(plan, self.project.manifest, state["ports"])
        return plan

    # -- down --------------------------------------------------------------------------
    def teardown(self, progress, stop_watcher: bool = True) -> None:
        """Stop everything of the session and delete its data and state dir. Idempotent."""
        if not self.state_dir.exists():
            return
        with self._lock(wait=60.0):
            state = self.read_state()
            if state.get("runtime") != "native":  # docker, or not known yet (it failed or died while starting)
                from devstack.session import containers

                containers.remove(LABEL, self.name, context=self.spec.context)
            if state:
                try:
                    self._down_processes(state, progress)
                except Exception as exc:  # noqa: BLE001 - e.g. the manifest was edited into an error meanwhile
                    progress(f"devstack: {getattr(exc, 'message', exc)}; stopping the session's processes by their pid files")
                    stop_pidfiles(self.state_dir)
            self._remove_data()
            if stop_watcher and state.get("watcher"):
                stop_process(state["watcher"])
        shutil.rmtree(self.state_dir, ignore_errors=True)
        try:
            self.state_dir.parent.rmdir()  # .devstack/test-runs/, when this was the last run in it
        except OSError:
            pass

    def _down_processes(self, state: dict, progress) -> None:
        """Native services, or the stand-ins beside containers, and the session's ports."""
        from devstack.ports import PortBook
        from devstack.runtime.native import NativeRuntime

        plan = self._plan(state)
        NativeRuntime(stubs_only=state.get("runtime") == "docker").down(plan, True, progress)
        PortBook(plan.state_dir, plan.root).release()

    def _remove_data(self) -> None:
        """The session's data outside its state dir (native postgres as root: /var/lib/devstack/<key>/)."""
        from devstack.runtime import process
        from devstack.runtime.host import project_key

        key = project_key(_Identity(self.name, self.project.manifest.root))
        if (process.data_root() / key).is_dir():
            process.remove_tree(process.data_root() / key)

    def describe(self) -> str:
        """How to reach a kept stack (--devstack-keep)."""
        from devstack.urls import mask_password

        state = self.read_state()
        plan = self._plan(state)
        lines = [f"devstack: kept the test stack {self.name} ({state.get('runtime')}) up for you:"]
        for svc in plan.running():
            url = svc.outputs.get("url") or svc.outputs.get("endpoint") or ""
            lines.append(f"  {svc.name}: {mask_password(str(url)) or svc.outputs.get('host', '')}")
        lines.append(f"  its variables: {plan.env_file}")
        lines.append(f"  stop it: {Path(sys.executable).name} -m devstack.session stop {self.state_dir}")
        return "\n".join(lines)


@dataclass
class _Identity:
    """What runtime.host.project_key reads of a plan."""

    project: str
    root: Path


# -- the watcher ---------------------------------------------------------------------------
def start_watcher(state_dir: Path, owner_pid: int) -> int:
    """Start the watcher of `owner_pid` (in a session of its own, so a signal to
    pytest's process group does not reach it); returns its PID."""
    from devstack.services.spec import python_env

    log = open(state_dir / WATCHER_LOG, "ab")
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "devstack.session.watcher", str(state_dir), str(owner_pid), str(process_start_time(owner_pid))],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
            env={**os.environ, **python_env()})
    finally:
        log.close()
    _watchers.append(child)  # a live Popen must not be collected (ResourceWarning); the owner stops it
    return child.pid


_watchers: list = []


def process_start_time(pid: int) -> float:
    """When a process started (to tell it from a later one that got its PID), 0 if gone."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


def stop_process(pid: int, timeout: float = 5.0) -> None:
    import psutil

    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:  # not our child (another xdist worker started it)
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.Error:
                return
        time.sleep(0.05)


def stop_pidfiles(state_dir: Path) -> None:
    """Last resort: every process group a pid file of the session names, and
    every process with the session's mark that none names (runtime/marks.py)."""
    from devstack.runtime import process

    process.stop_project(state_dir, timeout=5.0)


def read_spec(state_dir: Path) -> dict | None:
    from devstack.fsutil import read_json

    return read_json(Path(state_dir) / STATE_FILE).get("spec")
