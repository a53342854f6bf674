"""The stack operations behind `up`/`down`, shared by the CLI and the pytest plugin."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from devstack.errors import ManifestError, UserError
from devstack.project import Project


@dataclass
class UpResult:
    plan: object
    started: list[str]
    seconds: float


def up(app: Project, progress, seed: bool = True) -> UpResult:
    from devstack.runtime import forkserver

    started_at = time.monotonic()
    try:
        return _up(app, progress, seed, started_at)
    finally:
        forkserver.discard()  # prestarted for stand-ins that turned out not to start


def _up(app: Project, progress, seed: bool, started_at: float) -> UpResult:
    from devstack import runtime
    from devstack.lock import project_lock
    from devstack.runtime import forkserver

    forkserver.prestart(app.manifest)  # its import overlaps the planning below
    rt = runtime.select(app.requested_runtime(), app)
    with project_lock(app.manifest.state_dir, on_wait=progress):
        from devstack.fsutil import check_writable

        check_writable(app.manifest.state_dir)  # a read-only or full state dir: one error, before anything starts
        current = app.plan(host=rt.public_host())
        rt.recover(current, progress)  # what a killed `up` left running holds ports and lock files
        to_start = {s.name for s in current.running()} - rt.running_services(current)
        plan, jobs = _plan_for_up(app, rt, to_start, seed, progress)
        progress(f"devstack: {plan.project} on {rt.name} ({rt.where()})")
        try:
            started = rt.up(plan, progress)
        except UserError as exc:
            if not exc.port_taken_by_race:
                raise
            # Another program bound a port we had just found free: plan again
            # (that port is now seen as taken, so it moves) and start once more.
            progress(f"  {exc.port_taken_by_race}: another program took its port while it started; picking another")
            plan, jobs = _plan_for_up(app, rt, to_start, seed, progress, move={exc.port_taken_by_race})
            started = rt.up(plan, progress)
        if seed:
            from devstack.seed import seed_stack

            seed_stack(plan, progress, first_start_only=True, jobs=jobs)
    return UpResult(plan, started, time.monotonic() - started_at)


def _plan_for_up(app: Project, rt, to_start: set[str], seed: bool, progress, move: set[str] | None = None):
    """The plan `up` starts (kept ports of services about to start re-checked),
    its seed jobs, and the app's .env written from it."""
    from devstack import render

    plan = app.plan(recheck_ports=to_start, host=rt.public_host(), move_ports=move)
    if plan.pinned_taken:
        raise pinned_ports_taken(app.manifest, plan.pinned_taken, rt)
    jobs = None
    if seed:
        from devstack.seed import prepare

        jobs = prepare(plan, lines=app.manifest.lines)  # a `seed:` mistake fails before anything starts
    render.write_env(plan)  # the app can start even if a fixture fails later
    for move in plan.port_moves:
        progress(port_move_line(move, plan, rt))
    return plan, jobs


def down(app: Project, progress, volumes: bool = False) -> None:
    from devstack import runtime
    from devstack.errors import ManifestError
    from devstack.lock import project_lock
    from devstack.ports import PortBook

    try:
        rt = runtime.select(app.requested_runtime(), app)
        # read_only_ok: a stack whose state dir cannot be written is still stopped
        with project_lock(app.manifest.state_dir, on_wait=progress, read_only_ok=True):
            plan = app.plan(host=rt.public_host(), persist=False)  # a never-started project gets no new state
            rt.down(plan, volumes, progress)
            if volumes:
                PortBook(plan.state_dir, plan.root).release()
                # The seed records describe data that is gone now: the next `up` seeds afresh.
                shutil.rmtree(plan.state_dir / "seed", ignore_errors=True)
    except ManifestError as exc:
        if not exc.problems or exc.summary:  # a manifest that does not load, not e.g. "ports taken"
            raise
        down_recorded(app, exc, progress, volumes)


def down_recorded(app: Project, problems, progress, volumes: bool = False) -> None:
    """`down` of a stack whose manifest broke after `up`: stop what `up` recorded
    (every .devstack/*/pid process; the compose project of .devstack/docker.json)
    instead of planning from the manifest. Data is kept, even with --volumes."""
    from devstack import plan as plans
    from devstack.errors import UserError
    from devstack.lock import project_lock
    from devstack.runtime.docker import STATE_FILE
    from devstack.runtime.native import NativeRuntime

    progress("\n".join([f"warning: {problems.message}", *(f"  {p.render(problems.filename)}" for p in problems.problems)]))
    recorded = plans.recorded(app.manifest_path())
    if not recorded.state_dir.is_dir():
        progress("nothing recorded: this project was never started here")
        return
    with project_lock(recorded.state_dir, on_wait=progress, read_only_ok=True):
        progress("stopping what `up` recorded (the manifest cannot be read)")
        NativeRuntime().down(recorded, False, progress)  # every pid file, stand-ins of a docker stack too
        if (recorded.state_dir / STATE_FILE).exists():
            from devstack.runtime.docker import DockerRuntime

            DockerRuntime(context=app.context).down(recorded, False, progress)
    if volumes:
        raise UserError("stopped what `up` recorded; its data was not deleted: the manifest has problems (above)",
                        "fix them and run `devstack down --volumes` again")


def port_move_line(move, plan, rt) -> str:
    from devstack.render import relative_to_root

    name, option = move.key.split(".", 1)
    what = "port" if option == "port" else option
    holder = move.owner or rt.port_holder(move.old, move.protocol)
    return (f"  {name}: {what} {move.old} is held by {holder}; moved to {move.new} "
            f"(rewrote {relative_to_root(plan.env_file, plan.root)})")


def pinned_ports_taken(manifest, taken: list[tuple[str, int]], rt) -> ManifestError:
    """Every `port:` of the manifest another program holds, in one error, before anything starts."""
    from devstack.errors import Problem
    from devstack.services import catalog

    problems = []
    for key, port in taken:
        name, option = key.split(".", 1)
        protocol = catalog.get(manifest.services[name].kind).ports[option].protocol
        problems.append(Problem(f"port {port} is held by {rt.port_holder(port, protocol)}", f"services.{name}.{option}",
                                manifest.line("services", name, option)))
    count = len(problems)
    return ManifestError(str(manifest.path), problems,
                         fix=f"stop {'that program' if count == 1 else 'those programs'}, or change `port:` in the manifest "
                             "(or remove it: devstack then picks a free port and keeps it)",
                         summary=f"{count} port{'s' if count > 1 else ''} set in the manifest {'are' if count > 1 else 'is'} taken")
