"""The stack: each service running and answering its real protocol (the probes
`up` waits on), dead ones with their last log lines, processes or containers
left from an earlier run, and the state directories writable with room."""

from __future__ import annotations

import os
from pathlib import Path

from devstack.doctor.context import parallel
from devstack.doctor.findings import fail, ok, warn
from devstack.errors import NotReady

LOG_LINES = 10
# Docker Compose's own labels on every container it makes.
PROJECT_LABEL, SERVICE_LABEL = "com.docker.compose.project", "com.docker.compose.service"
MIN_FREE = 64 << 20  # below this a database cannot even start its WAL
LOW_FREE = 512 << 20


def checks(ctx):
    yield from services(ctx)
    yield from leftovers(ctx)
    yield from state_dirs(ctx)


# -- running and answering ------------------------------------------------------------


def services(ctx):
    from devstack.errors import UserError

    try:
        states = [s for s in ctx.rt.status(ctx.scoped) if s.mode in ("run", "stub")]
    except UserError as exc:  # e.g. the engine does not answer (the runtime check says so too)
        yield fail("stack", ctx.plan.project, f"cannot read the stack's state: {exc.message}", exc.hint or "")
        return
    if not states:
        return
    if all(s.state == "stopped" for s in states):
        yield warn("stack", ctx.plan.project, "not running" + ("" if ctx.whole else f": {', '.join(s.name for s in states)}"),
                   "`devstack up` starts it" if ctx.whole else f"`devstack up` starts {', '.join(s.name for s in states)}")
        return
    yield from (f for found in parallel(lambda state: list(_service(ctx, state)), states) for f in found)


def _service(ctx, state):
    svc = ctx.plan.services[state.name]
    pid = f" (pid {state.pid})" if state.pid else ""
    if state.state == "stopped":
        yield warn("stack", svc.name, "not running", "`devstack up` starts it")
        return
    if state.state == "dead":
        # docker: "redis:7 (container exited (exit code 137))"
        why = state.detail.split(" (", 1)[1][:-1] if " (" in state.detail else (state.detail or "not running")
        if ctx.rt.name == "native" or svc.on_host:
            why = f"process {state.pid} is gone (crashed or killed)" if state.pid else why
        yield fail("stack", svc.name, f"dead: {why}" + _log(ctx, svc),
                   f"`devstack up` starts it again; `devstack logs {svc.name}` shows the whole log")
        return
    # ready (native: status probed it) or running: ask the kind's probe, as `up` does
    problem = None if state.state == "ready" and ctx.rt.name == "native" else _probe(svc, ctx.plan)
    if problem:
        yield fail("stack", svc.name, f"running{pid} but does not answer: {problem}" + _log(ctx, svc),
                   f"`devstack logs {svc.name}` shows why; `devstack down && devstack up` restarts the stack")
        return
    yield ok("stack", svc.name, f"ready{pid}: answers on {', '.join(f'{svc.host}:{p}' for p in svc.ports.values())}")


def _probe(svc, plan) -> str | None:
    try:
        svc.kind.ready(svc, plan)
    except NotReady as exc:
        return str(exc) or "not ready"
    except Exception as exc:  # noqa: BLE001 - a probe that blows up is an answer too
        return f"{type(exc).__name__}: {exc}"
    return None


def _log(ctx, svc) -> str:
    lines = _tail(ctx, svc)
    if not lines:
        return " (its log is empty)"
    return "; last lines of its log:\n" + "\n".join("  " + line for line in lines)


def _tail(ctx, svc) -> list[str]:
    try:
        return ctx.rt.tail(ctx.plan, svc.name, LOG_LINES)
    except Exception:  # noqa: BLE001 - a log we cannot read must not hide the finding
        return []


# -- left from an earlier run ---------------------------------------------------------


def leftovers(ctx):
    yield from _native_leftovers(ctx)
    if ctx.rt.name == "docker":
        yield from _docker_leftovers(ctx)
    else:
        yield from _containers_under_native(ctx)


def _native_leftovers(ctx):
    """Pid files whose leader is gone but whose group lives on; pid files of
    services no longer in the manifest; under Docker, natively started
    services still running."""
    from devstack.runtime.process import PidFile

    state = ctx.plan.state_dir
    if not state.is_dir():
        return
    known = set(ctx.plan.services)
    for pid_path in sorted(state.glob("*/pid")):
        name = pid_path.parent.name
        if name in known and name not in ctx.names:
            continue
        rec = PidFile.read(pid_path)
        if rec is None:
            continue
        svc = ctx.plan.services.get(name)
        if svc is None:
            if rec.group_left():
                yield fail("leftovers", name, f"{name} is no longer in the manifest, but its processes still run: {_members(rec.pid)}",
                           "`devstack down` stops them")
        elif rec.leader_alive():
            if ctx.rt.name == "docker" and svc.in_container:
                yield fail("leftovers", name, f"{name} still runs as a local process from an earlier native run: {_members(rec.pid)}",
                           "`devstack down --runtime native` stops it (its data stays)")
        elif rec.group_left():
            yield fail("leftovers", name, f"{name}'s server is gone but processes of it are left: {_members(rec.pid)}",
                       "`devstack down` stops them; then `devstack up`")


def _members(leader: int) -> str:
    import psutil

    from devstack.runtime import process

    described = []
    for pid in sorted(process.members(leader)):
        try:
            command = " ".join(psutil.Process(pid).cmdline()) or "?"
        except psutil.Error:
            command = "?"
        described.append(f"PID {pid} ({command[:80]})")
    return ", ".join(described) or f"process group {leader}"


def _docker_leftovers(ctx):
    """Containers labelled with this compose project that the plan does not run."""
    from devstack.errors import UserError

    try:
        boxes = ctx.rt.boxes(ctx.plan)
    except (UserError, OSError):
        return  # the runtime check says why the engine cannot be asked
    wanted = {s.name for s in ctx.plan.services.values() if s.in_container}
    for name, box in sorted(boxes.items()):
        if name not in wanted and (ctx.whole or name in ctx.names):
            yield warn("leftovers", name, f"container {box.name} ({box.status}) of {ctx.plan.compose_project} is left from an earlier run: "
                       f"{name} is not a container service in the manifest now", f"`devstack down` removes it (or `docker rm -f {box.name}`)")


def _containers_under_native(ctx):
    """Under the native runtime: containers of this project still running from a Docker run."""
    from devstack.runtime import engine

    try:
        endpoint = engine.resolve(ctx.project.context)
    except engine.ContextNotFound:
        return
    if not endpoint.host.startswith("unix://") or not os.path.exists(endpoint.host[len("unix://"):]):
        return  # only a local engine is asked: a remote one would cost a round trip
    import json
    import urllib.parse

    filters = urllib.parse.quote(json.dumps({"label": [f"{PROJECT_LABEL}={ctx.plan.compose_project}"], "status": ["running"]}))
    try:
        listed = engine.api_get(endpoint, f"/containers/json?filters={filters}", timeout=2.0)
    except (OSError, ValueError):
        return
    for item in listed or []:
        service = (item.get("Labels") or {}).get(SERVICE_LABEL, "?")
        if not ctx.whole and service not in ctx.names:
            continue
        name = ((item.get("Names") or ["?"])[0]).lstrip("/")
        yield fail("leftovers", service, f"container {name} of this project still runs from an earlier Docker run",
                   "`devstack down --runtime docker` stops it (its data stays)")


# -- state directories -------------------------------------------------------------------


def state_dirs(ctx):
    paths = {ctx.plan.state_dir: ".devstack"}
    for svc in ctx.native():
        spec = ctx.spec(svc)
        data = getattr(spec, "data", None)
        if data is not None and ctx.plan.state_dir not in (data.path, *data.path.parents):
            paths[data.path] = f"{svc.name}'s data"
    for path, what in paths.items():
        yield _writable(path, what)


def _writable(path: Path, what: str):
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    shown = str(path) + ("" if existing == path else f" (to be made in {existing})")
    try:
        st = os.statvfs(existing)
    except OSError as exc:
        return fail("state", what, f"{shown}: {exc.strerror or exc}", f"check {existing} (`ls -ld {existing}`)")
    if st.f_flag & os.ST_RDONLY:  # root passes access checks, not a read-only mount
        mount = _mount_point(existing)
        return fail("state", what, f"{shown} is on a read-only file system (mounted at {mount})",
                    f"remount it read-write (`mount -o remount,rw {mount}`), or move the project to a writable disk")
    if not os.access(existing, os.W_OK | os.X_OK):
        return fail("state", what, f"{shown} is not writable by you",
                    f"`sudo chown -R $(id -u):$(id -g) {existing}`, or run devstack as its owner")
    free = st.f_bavail * st.f_frsize
    if st.f_favail == 0 and st.f_files:
        return fail("state", what, f"{shown}: no free inodes left on its file system", f"delete files on the disk holding {existing}")
    if free < MIN_FREE:
        return fail("state", what, f"{shown}: only {_size(free)} free", f"free disk space where {existing} lives (`df -h {existing}`)")
    if free < LOW_FREE:
        return warn("state", what, f"{shown}: only {_size(free)} free; databases need room to grow", f"free disk space (`df -h {existing}`)")
    return ok("state", what, f"{shown}: writable, {_size(free)} free")


def _mount_point(path: Path) -> Path:
    """The mount holding path: the longest mount point above it (a bind mount keeps
    its file system's device number, so walking up by st_dev would miss it)."""
    path = path.resolve()
    try:
        with open("/proc/self/mounts") as handle:
            points = [Path(line.split()[1].encode().decode("unicode_escape")) for line in handle if len(line.split()) > 1]
    except OSError:
        points = []
    above = [p for p in points if p == path or p in path.parents]
    if above:
        return max(above, key=lambda p: len(p.parts))
    device = path.stat().st_dev
    while path != path.parent and path.parent.stat().st_dev == device:
        path = path.parent
    return path


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
