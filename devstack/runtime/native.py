"""The native runtime: every service of the plan as a local process.

A small supervisor without a daemon: processes are started detached (own
session and process group), outlive the `devstack` command, and are found
again through .devstack/<service>/pid, whose fingerprint (start time + argv)
tells a live process of ours from a stale file whose PID was reused.

What to run is the catalog's business (`Kind.native(svc, stack, host)` returns
a NativeSpec, runtime/host.py is the host it asks); nothing here knows a kind.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path

from devstack.errors import NotReady, ServiceFailed, UserError
from devstack.plan import ServicePlan, StackPlan
from devstack.readiness import wait_all
from devstack.runtime import process
from devstack.runtime.base import Progress, Runtime, ServiceState
from devstack.runtime.host import native_spec
from devstack.runtime.process import PidFile
from devstack.services.spec import NativeSpec

LOG_LINES_ON_FAILURE = 15
STOP_TIMEOUT = 10.0
_children: list = []  # Popen objects of this process's children (reaped, never waited on)


class NativeRuntime(Runtime):
    name = "native"

    def __init__(self, stubs_only: bool = False):
        # stubs_only: manage only host-process services (ServicePlan.on_host: the
        # docker runtime runs devstack's stand-ins this way, beside its containers).
        self.stubs_only = stubs_only

    # -- which services, where --------------------------------------------------
    def managed(self, plan: StackPlan) -> list[ServicePlan]:
        if self.stubs_only:
            return [s for s in plan.services.values() if s.on_host]
        return [s for s in plan.services.values() if s.runs]

    @staticmethod
    def pidfile(svc_state: Path) -> Path:
        return svc_state / "pid"

    @staticmethod
    def logfile(svc_state: Path) -> Path:
        return svc_state / "log"

    def record(self, svc: ServicePlan) -> PidFile | None:
        return PidFile.read(self.pidfile(svc.state_dir))

    def running_services(self, plan: StackPlan) -> set[str]:
        return {s.name for s in self.managed(plan) if (r := self.record(s)) and r.leader_alive()}

    # -- leftovers of a killed run -------------------------------------------------
    def recover(self, plan: StackPlan, progress: Progress) -> None:
        """Stop what an interrupted `up` left running unrecorded (a server
        spawned just before it was killed, no pid file yet): found by the
        project's mark, so it holds no port and no lock file the next start
        needs. Only when some service is not running by its pid file: with
        every one running, nothing of ours can be unrecorded."""
        records = [self.record(s) for s in self.managed(plan)]
        if all(r is not None and r.leader_alive() for r in records):
            return
        strays = self._strays(plan, [r for r in records if r is not None and r.leader_alive()])
        if strays:
            names = sorted({m.service or f"pid {m.pid}" for m in strays})
            progress(f"  stopping what an interrupted devstack left running: {', '.join(names)}")
            self._stop_marked(plan, strays)

    def _strays(self, plan: StackPlan, running: list[PidFile]) -> list[process.Marked]:
        """Processes with the project's mark that no live pid file accounts for."""
        ours = process.members_of([rec.pid for rec in running])
        return [m for m in process.marked_processes(plan.state_dir) if m.pid not in ours]

    def _stop_marked(self, plan: StackPlan, strays: list[process.Marked]) -> list[int]:
        signals = {}
        for name in {m.service for m in strays if m.service in plan.services}:
            spec = _spec_or_none(plan.services[name], plan)
            signals[name] = spec.stop_signal if spec else 15
        return process.stop_processes({m.pid: (m.start, signals.get(m.service, 15)) for m in strays}, timeout=STOP_TIMEOUT)

    # -- up -------------------------------------------------------------------------
    def up(self, plan: StackPlan, progress: Progress) -> list[str]:
        services = self.managed(plan)
        if not services:
            return []
        running, to_start = [], []
        for svc in services:
            rec = self.record(svc)
            if rec and rec.leader_alive() and rec.ports and {k: int(v) for k, v in rec.ports.items()} != svc.ports:
                # Its ports changed in the manifest since it started: restart it on the new ones.
                progress(f"  {svc.name}: ports changed, restarting it")
                view = _as_started(svc, rec, plan)
                self._stop([view], {svc.name: _spec_or_none(view, plan)}, run_hooks=True, progress=progress)
                to_start.append(svc)
            elif rec and rec.leader_alive():
                running.append(svc)
            else:
                if rec:  # dead (crash, SIGKILL, reboot): clear what is left of it
                    self._clear_stale(svc, rec, progress)
                to_start.append(svc)

        # Already-running services only need to answer; those that do not are waited for.
        not_answering = [s for s in running if not _answers(s, plan)]
        if not to_start and not not_answering:
            from devstack.runtime import forkserver

            forkserver.discard()  # nothing to fork
            return []

        specs = native_specs(to_start, plan)  # missing binaries fail here, every one together, before anything starts
        # One pipeline per service, all in parallel: spawn (with init steps such
        # as initdb), bootstrap, then the kind's readiness probe.
        launcher = _launcher(specs.values(), plan.state_dir)
        first = sorted(to_start, key=lambda svc: not specs[svc.name].start_first)  # the slowest is spawned first
        launches = {svc.name: _Launch(svc, specs[svc.name], self, progress, launcher) for svc in first}
        repairs = [self._resume_setup(svc, plan, progress) for svc in not_answering]
        waiting = [launch.plan_view() for launch in launches.values()] + repairs
        alive = {name: launch.alive for name, launch in launches.items()}
        alive.update({s.name: _alive_check(self.record(s), None) for s in not_answering})
        timeout = max([spec.ready_timeout for spec in specs.values()] + [60.0])
        try:
            try:
                wait_all(waiting, plan, progress, timeout=timeout, alive_checks=alive)
            finally:
                if launcher is not None:
                    launcher.close()
        except BaseException as exc:
            started = [launch for launch in launches.values() if launch.record is not None]
            self._stop([la.svc for la in started], {la.svc.name: la.spec for la in started}, run_hooks=False)
            if isinstance(exc, ServiceFailed):
                failed = _failed_service(exc, to_start + not_answering)
                launch = launches.get(failed.name) if failed else None
                raise self._explain(exc, failed, launch.spec if launch else None, launch.record if launch else None,
                                    launch.log_offset if launch else 0) from None
            raise
        return [s.name for s in to_start]

    def _resume_setup(self, svc: ServicePlan, plan: StackPlan, progress: Progress) -> ServicePlan:
        """A running service that does not answer may be one a killed `up` had
        started but not yet set up (PostgreSQL without the app's role password):
        its bootstrap, idempotent, runs again before the probe."""
        spec, record = _spec_or_none(svc, plan), self.record(svc)
        if spec is None or spec.bootstrap is None or record is None:
            return svc
        progress(f"  {svc.name}: running but not answering: completing its setup")
        launch = _Launch(svc, spec, self, progress)
        launch.record = record  # already running: step() goes straight to the bootstrap
        return launch.plan_view()

    def _explain(self, exc: ServiceFailed, svc: ServicePlan | None, spec: NativeSpec | None, rec: PidFile | None,
                 offset: int = 0) -> ServiceFailed:
        if svc is None:
            return exc
        log = self.logfile(svc.state_dir)
        lines = process.tail(log, LOG_LINES_ON_FAILURE, rec.log_offset if rec else offset)
        message = exc.message
        if lines:
            message += f"\n  last lines of {_relative(log)}:\n" + "\n".join("    " + line for line in lines)
        hint = (spec.hint if spec and spec.hint else "") or f"the whole log: `devstack logs {svc.name}`"
        race = False
        if any(re.search(r"address already in use|EADDRINUSE|errno 98", line, re.IGNORECASE) for line in lines):
            # Another program took a port between planning and starting.
            pinned = [f"`{name}: {svc.ports[name]}`" for name in svc.ports if svc.options.get(name)]
            race = not pinned
            hint = (f"another program holds {', '.join(pinned)} set for {svc.name} in the manifest: stop it, or change the port"
                    if pinned else f"another program took a port of {svc.name} while it started: `devstack up` picks a free one")
        elif spec and spec.hint:
            hint += f"; the whole log: `devstack logs {svc.name}`"
        failed = ServiceFailed(message, hint)
        failed.port_taken_by_race = svc.name if race else None
        return failed

    def _clear_stale(self, svc: ServicePlan, rec: PidFile, progress: Progress) -> None:
        if rec.group_left():  # the leader died but some of its children did not
            process.stop_groups([(rec, 15)], timeout=STOP_TIMEOUT)
        progress(f"  {svc.name}: was not running (stale pid file), starting it again")
        rec.remove()

    # -- down -------------------------------------------------------------------------
    def down(self, plan: StackPlan, volumes: bool, progress: Progress) -> None:
        services = self.managed(plan)
        specs: dict[str, NativeSpec | None] = {}
        for svc in services:
            specs[svc.name] = _spec_or_none(_as_started(svc, self.record(svc), plan), plan)
        stopped = self._stop(services, specs, run_hooks=True, progress=progress)
        for spec in specs.values():
            for path in (spec.scratch if spec else []):
                process.remove_tree(path)
        orphans = [] if self.stubs_only else self._orphans(plan)
        if orphans:
            stopped += self._stop_records(orphans, {})
        # However an `up` died, what it started carries the project's mark.
        strays = self._strays(plan, [])
        if strays:
            stopped += sorted({m.service or f"pid {m.pid}" for m in strays} - set(stopped))
            still = self._stop_marked(plan, strays)
            if still:
                raise ServiceFailed(f"could not stop processes {', '.join(map(str, still))} of this project",
                                    "they may belong to another user; `ps -o pid,user,args -p PID` shows who runs them")
        if stopped:
            progress(f"  stopped {', '.join(stopped)}")
        left = self._left(services)
        if left:
            raise ServiceFailed(f"could not stop {', '.join(left)}", "check `devstack status`; the processes may belong to another user")
        if volumes:
            from devstack.fsutil import check_writable

            if plan.state_dir.is_dir():
                check_writable(plan.state_dir)  # the processes are stopped; say why the data stays
            for svc in services:
                spec = specs.get(svc.name)
                for path in (spec.all_volumes() if spec else []):
                    process.remove_tree(path)
                link = svc.state_dir / "data"
                if link.is_symlink():
                    process.remove_tree(link.resolve())
                process.remove_tree(svc.state_dir)
            progress(f"  deleted the data of {', '.join(s.name for s in services) or 'no service'}")

    def _stop(self, services, specs, run_hooks: bool, progress: Progress | None = None) -> list[str]:
        live = []
        for svc in services:
            rec = self.record(svc)
            if rec is None:
                continue
            if rec.group_left():
                live.append((svc, rec))
            else:
                rec.remove()
        if run_hooks:
            hooks = [(svc, specs[svc.name].before_stop) for svc, _ in live if specs.get(svc.name) and specs[svc.name].before_stop]

            def run(item):
                svc, hook = item
                try:
                    hook()
                except Exception as exc:  # noqa: BLE001 - a failed snapshot must not keep the stack running
                    if progress:
                        progress(f"  {svc.name}: could not save its data before stopping: {exc}")

            if hooks:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=len(hooks)) as pool:
                    list(pool.map(run, hooks))
        return self._stop_records([(svc.name, rec) for svc, rec in live], specs)

    def _stop_records(self, named: list[tuple[str, PidFile]], specs) -> list[str]:
        targets = [(rec, specs[name].stop_signal if specs.get(name) else 15) for name, rec in named]
        process.stop_groups(targets, timeout=STOP_TIMEOUT)
        done = []
        for name, rec in named:
            if not rec.group_left():
                rec.remove()
                done.append(name)
        return done

    def _orphans(self, plan: StackPlan) -> list[tuple[str, PidFile]]:
        """Processes of services no longer in the manifest (their pid files remain)."""
        found = []
        known = {s.name for s in plan.services.values()}
        if not plan.state_dir.is_dir():
            return found
        for pid_path in plan.state_dir.glob("*/pid"):
            name = pid_path.parent.name
            if name in known:
                continue
            rec = PidFile.read(pid_path)
            if rec and rec.group_left():
                found.append((name, rec))
            elif rec:
                rec.remove()
        return found

    def _left(self, services) -> list[str]:
        return [s.name for s in services if (r := self.record(s)) and r.group_left()]

    # -- status / logs -------------------------------------------------------------
    def status(self, plan: StackPlan) -> list[ServiceState]:
        shown = [s for s in plan.services.values() if not self.stubs_only or s.on_host]

        def one(svc: ServicePlan) -> ServiceState:
            ports = dict(svc.ports)
            where = ", ".join(f"{svc.host}:{p}" for p in ports.values())
            if svc.mode in ("off", "external"):
                detail = svc.options.get("url", "") if svc.mode == "external" else ""
                return ServiceState(svc.name, svc.kind.name, svc.mode, svc.mode, None, detail, ports)
            rec = self.record(svc)
            if rec is None:
                return ServiceState(svc.name, svc.kind.name, svc.mode, "stopped", None, where, ports)
            svc = _as_started(svc, rec, plan)
            ports = dict(svc.ports)
            where = ", ".join(f"{svc.host}:{p}" for p in ports.values())
            if not rec.leader_alive():
                why = "left processes behind" if rec.group_left() else "not running; `devstack up` restarts it"
                return ServiceState(svc.name, svc.kind.name, svc.mode, "dead", rec.pid or None, f"{where} ({why})", ports)
            state = "ready" if _answers(svc, plan) else "running"
            return ServiceState(svc.name, svc.kind.name, svc.mode, state, rec.pid, f"{where} {rec.implementation}".strip(), ports)

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, len(shown))) as pool:
            return list(pool.map(one, shown))

    def tail(self, plan: StackPlan, service: str, lines: int) -> list[str]:
        svc = plan.services[service]
        rec = self.record(svc)
        return process.tail(self.logfile(svc.state_dir), lines, rec.log_offset if rec else 0)

    def logs(self, plan: StackPlan, service: str, follow: bool, lines: int) -> None:
        svc = plan.services[service]
        if svc.mode not in ("run", "stub"):
            raise UserError(f"{service} is `mode: {svc.mode}`: nothing runs for it, so it has no log")
        path = self.logfile(svc.state_dir)
        if not path.exists() and not follow:
            raise UserError(f"{service} has no log yet", "start it with `devstack up`")
        out = sys.stdout
        for line in process.tail(path, lines):
            out.write(line + "\n")
        out.flush()
        if follow:
            _follow(path, out)


# -- helpers ------------------------------------------------------------------------------


def _launcher(specs, state_dir):
    """The pre-warmed helper for devstack's stand-ins, when two or more start now."""
    from devstack.runtime import forkserver

    early = forkserver.claim()
    if not forkserver.enabled() or sum(1 for s in specs if forkserver.forkable(s.argv, s.user)) < 2:
        if early is not None:
            early.kill()
        return None
    return early or forkserver.ForkServer(forkserver.helper_env(state_dir))


def native_specs(services: list[ServicePlan], plan: StackPlan) -> dict[str, NativeSpec]:
    """Each service's NativeSpec; what cannot run (a missing or wrong binary) is
    reported for every service at once, each named with its manifest line."""
    from devstack.errors import ManifestError, Problem

    specs, problems = {}, []
    for svc in services:
        try:
            specs[svc.name] = native_spec(svc, plan)
        except UserError as exc:
            problems.append(Problem(exc.message, f"services.{svc.name}", svc.line, exc.hint))
    if problems:
        count = len(problems)
        raise ManifestError(str(plan.manifest_path), problems, fix="install what is missing, or set `bin:` to the right file",
                            summary=f"{count} service{'s' if count > 1 else ''} cannot run on this machine")
    return specs


def _spec_or_none(svc: ServicePlan, plan: StackPlan) -> NativeSpec | None:
    """The spec, for stopping: None if it cannot be built now (e.g. the binary
    was uninstalled meanwhile); the process is stopped all the same."""
    try:
        return native_spec(svc, plan)
    except (UserError, NotImplementedError):
        return None


def _as_started(svc: ServicePlan, rec: PidFile | None, plan: StackPlan) -> ServicePlan:
    """The service as it was started: `down` talks to the ports the process
    really listens on, even if the plan has moved since (manifest edited, a
    kept port taken by another project meanwhile)."""
    if rec is None or not rec.ports or rec.ports == svc.ports:
        return svc
    from devstack.plan import service_outputs

    view = dataclasses.replace(svc, ports={**svc.ports, **{k: int(v) for k, v in rec.ports.items() if k in svc.ports}})
    view.outputs = service_outputs(view, plan)
    return view


def _answers(svc: ServicePlan, plan: StackPlan) -> bool:
    try:
        svc.kind.ready(svc, plan)
        return True
    except NotReady:
        return False
    except Exception:  # noqa: BLE001 - a probe that blows up means "not ready", never a crash of status
        return False


def _alive_check(rec: PidFile | None, proc):
    def alive():
        if proc is not None:
            code = proc.poll()
            if code is not None:
                return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
            return None
        if rec is None or not rec.leader_alive():
            return "the process is gone"
        return None

    return alive


class _Launch:
    """One service being started: spawn, bootstrap, then the kind's probe.

    Seen by wait_all as the ServicePlan with a wrapped kind, so the slow first
    steps (initdb...) run in wait_all's per-service thread, overlapping the
    other services' startup.
    """

    def __init__(self, svc: ServicePlan, spec: NativeSpec, runtime: NativeRuntime, progress: Progress, launcher=None):
        self.svc, self.spec, self.runtime, self.progress, self.launcher = svc, spec, runtime, progress, launcher
        self.record: PidFile | None = None
        self.proc = None
        self.log_offset = 0
        self.port_seen = False
        self.bootstrapped = spec.bootstrap is None

    def plan_view(self) -> ServicePlan:
        return dataclasses.replace(self.svc, kind=_LaunchingKind(self.svc.kind, self))

    def step(self, svc, plan) -> None:
        if self.record is None:
            self.progress(f"  {svc.name}: starting {self.spec.implementation}")
            state = self.svc.state_dir
            log = self.runtime.logfile(state)
            self.log_offset = log.stat().st_size if log.exists() else 0
            try:
                self.record = process.spawn(self.spec, state, self.runtime.logfile(state), self.runtime.pidfile(state),
                                            self.svc.ports, launcher=self.launcher)
            except (process.SpawnError, OSError) as exc:
                raise ServiceFailed(f"{svc.name} ({self.svc.kind.name}) could not start: {exc}") from None
            self.proc = getattr(self.record, "proc", None)
            if self.proc is not None:
                _children.append(self.proc)
        if not self.bootstrapped:
            try:
                self.spec.bootstrap()
            except NotReady:
                raise
            except Exception as exc:  # noqa: BLE001 - any setup error is this service's failure, shown with its log
                raise ServiceFailed(f"{svc.name} ({self.svc.kind.name}) started but its setup failed: {exc}") from None
            self.bootstrapped = True
        self._port_open(svc)
        self.svc.kind.ready(svc, plan)

    def _port_open(self, svc) -> None:
        """A cheap gate before the kind's probe: its first TCP port accepts connections.

        While a server is still starting, a refused connect costs microseconds
        where a full probe (HTTP request, SQL login, signed S3 call) costs
        milliseconds of the CPU the starting servers need.
        """
        if self.port_seen:
            return
        import socket

        tcp = [name for name, port in svc.kind.ports.items() if port.protocol in ("tcp", "both") and name in svc.ports]
        if not tcp:
            self.port_seen = True
            return
        try:
            socket.create_connection((svc.host, svc.ports[tcp[0]]), timeout=1).close()
        except OSError as exc:
            raise NotReady(f"{svc.host}:{svc.ports[tcp[0]]} not accepting connections yet ({exc.strerror or exc})") from None
        self.port_seen = True

    def alive(self) -> str | None:
        if self.record is None:
            return None
        return _alive_check(self.record, self.proc)()


class _LaunchingKind:
    def __init__(self, kind, launch: _Launch):
        self._kind, self._launch = kind, launch

    def __getattr__(self, name):
        return getattr(self._kind, name)

    def ready(self, svc, plan):
        self._launch.step(svc, plan)


def _failed_service(exc: ServiceFailed, services) -> ServicePlan | None:
    for svc in services:
        if exc.message.startswith(f"{svc.name} ("):
            return svc
    return None


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _follow(path: Path, out) -> None:
    """tail -f: print what is appended; survives rotation and truncation."""
    position = path.stat().st_size if path.exists() else 0
    inode = path.stat().st_ino if path.exists() else None
    try:
        while True:
            try:
                st = path.stat()
            except FileNotFoundError:
                time.sleep(0.2)
                continue
            if st.st_ino != inode or st.st_size < position:
                inode, position = st.st_ino, 0
            if st.st_size > position:
                with open(path, "rb") as handle:
                    handle.seek(position)
                    data = handle.read()
                position += len(data)
                out.write(data.decode(errors="replace"))
                out.flush()
            time.sleep(0.2)
    except KeyboardInterrupt:
        return
