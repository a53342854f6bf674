"""The stack operations behind `up`/`down`, shared by the CLI and the pytest plugin."""

from __future__ import annotations

import time
from dataclasses import dataclass

from devstack.cli.app import App


@dataclass
class UpResult:
    plan: object
    started: list[str]
    seconds: float


def up(app: App, progress, seed: bool = True) -> UpResult:
    from devstack.runtime import forkserver

    started_at = time.monotonic()
    try:
        return _up(app, progress, seed, started_at)
    finally:
        forkserver.discard()  # prestarted for stand-ins that turned out not to start


def _up(app: App, progress, seed: bool, started_at: float) -> UpResult:
    from devstack import render, runtime
    from devstack.lock import project_lock
    from devstack.runtime import forkserver

    forkserver.prestart(app.manifest)  # its import overlaps the planning below
    rt = runtime.select(app.requested_runtime(), app)
    with project_lock(app.manifest.state_dir, on_wait=progress):
        current = app.plan(host=rt.public_host())
        to_start = {s.name for s in current.running()} - rt.running_services(current)
        plan = app.plan(recheck_ports=to_start, host=rt.public_host())
        jobs = None
        if seed:
            from devstack.seed import prepare

            jobs = prepare(plan, lines=app.manifest.lines)  # a `seed:` mistake fails before anything starts
        render.write_env(plan)  # the app can start even if a fixture fails below
        progress(f"devstack: {plan.project} on {rt.name} ({rt.where()})")
        started = rt.up(plan, progress)
        if seed:
            from devstack.seed import seed_stack

            seed_stack(plan, progress, first_start_only=True, jobs=jobs)
    return UpResult(plan, started, time.monotonic() - started_at)


def down(app: App, progress, volumes: bool = False) -> None:
    from devstack import runtime
    from devstack.lock import project_lock
    from devstack.ports import PortBook

    rt = runtime.select(app.requested_runtime(), app)
    with project_lock(app.manifest.state_dir, on_wait=progress):
        plan = app.plan(host=rt.public_host())
        rt.down(plan, volumes, progress)
        if volumes:
            PortBook(plan.state_dir, plan.root).release()
