"""Docker runtime: the rendered .devstack/compose.yaml run by `docker compose`, via python-on-whales.

- One choke point: every python-on-whales call goes through `DockerRuntime._run`,
  which maps DockerException (command, exit code, stdout, stderr) to one-line
  UserError / ServiceFailed with the fix. Commands run with quiet=True so
  compose's stderr is kept for that message.
- Readiness: `compose up --detach` (never `--wait`), then the kinds' real-protocol
  checks from this machine through the published ports (devstack.readiness),
  while container state is watched so a container that exits, restarts or turns
  unhealthy fails at once with its last log lines. The probe clients load while
  compose works, and each service is probed from the moment the engine reports
  its container started: it is ready as soon as it answers, no healthcheck
  interval has to pass.
- Host-process services (`mode: stub`, and whatever a kind runs on the host:
  ServicePlan.on_host) are run by NativeRuntime(stubs_only=True), started
  beside the containers.
- Remote engines (tcp:// or ssh:// DOCKER_HOST, docker contexts): ports are
  published on all interfaces of the engine's host and the plan's outputs point
  there (see docs/docker.md).

Speed (bench/docker_up.py): importing python-on-whales costs ~0.3 s, a third of
a warm `up`. So `up` reads container state from a local engine's socket, and
starts its one `docker compose up` as the very argv python-on-whales builds
(tests/runtime/test_docker_args.py holds them equal), wrapping a failure in
python-on-whales' DockerException for the same choke point. Everything else,
and every remote engine, goes through python-on-whales itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.background import Background
from devstack.errors import ServiceFailed, UserError
from devstack.plan import ServicePlan, StackPlan
from devstack.runtime import engine as engine_mod
from devstack.runtime.base import Progress, Runtime, ServiceState
from devstack.runtime.docker_errors import (  # noqa: F401  (re-exported for tests and callers)
    ImageMissing,
    docker_cli_missing,
    compose_missing,
    image_unavailable,
    engine_unreachable,
    reason_line,
    explain,
    port_taken,
    check_ports,
    bindable,
    holder,
    publishing_container,
)

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# `docker compose up`: detached, never --wait (readiness is probed from here), never
# pulling silently (a missing image is pulled with progress, then up runs again).
UP_KWARGS = {"detach": True, "wait": False, "quiet": True, "remove_orphans": True, "pull": "never"}
UP_ARGS = ("up", "--detach", "--remove-orphans", "--pull", "never")
READY_TIMEOUT = float(os.environ.get("DEVSTACK_READY_TIMEOUT", "90"))
LOG_LINES = 15  # shown when a service fails
STATE_FILE = "docker.json"  # .devstack/docker.json: hash of the compose file last brought up


def default_factory(**kwargs):
    """python-on-whales' DockerClient (the import is deferred until a command needs it)."""
    from python_on_whales import DockerClient

    return DockerClient(**kwargs)


@dataclass
class Box:
    """One container of the project, from `docker container inspect`."""

    service: str
    id: str
    name: str
    status: str  # created | running | restarting | paused | exited | dead | removing
    health: str | None  # starting | healthy | unhealthy | None (no healthcheck)
    exit_code: int = 0
    restarts: int = 0
    image: str = ""
    health_output: str = ""
    ports: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @classmethod
    def from_inspect(cls, data: dict) -> Box:
        state = data.get("State") or {}
        config = data.get("Config") or {}
        health = state.get("Health") or {}
        log = health.get("Log") or []
        output = (log[-1].get("Output") or "").strip() if log else ""
        ports = []
        for cport, binds in ((data.get("NetworkSettings") or {}).get("Ports") or {}).items():
            for bind in binds or []:
                ports.append(f"{bind.get('HostIp')}:{bind.get('HostPort')}->{cport}")
        return cls(
            service=(config.get("Labels") or {}).get(SERVICE_LABEL, ""),
            id=data.get("Id", ""),
            name=(data.get("Name") or "").lstrip("/"),
            status=state.get("Status", ""),
            health=health.get("Status"),
            exit_code=state.get("ExitCode") or 0,
            restarts=data.get("RestartCount") or 0,
            image=config.get("Image", ""),
            health_output=output.splitlines()[-1] if output else "",
            ports=ports,
        )


class DockerRuntime(Runtime):
    name = "docker"

    def __init__(self, context: str | None = None, client_factory: Callable[..., Any] | None = None):
        self.context = context
        self._factory = client_factory or default_factory
        self._endpoint: engine_mod.Endpoint | None = None
        self._snapshot: tuple[str, float, dict[str, Box]] | None = None  # (project, when, boxes)
        self._stubs_rt = None

    # -- where -------------------------------------------------------------------
    @property
    def endpoint(self) -> engine_mod.Endpoint:
        if self._endpoint is None:
            try:
                self._endpoint = engine_mod.resolve(self.context)
            except engine_mod.ContextNotFound as exc:
                raise UserError(f"docker context `{exc}` does not exist",
                                "`docker context ls` lists them; `docker context create NAME --docker host=ssh://user@host` makes one") from None
        return self._endpoint

    def where(self) -> str:
        return self.endpoint.describe()

    def public_host(self) -> str:
        return self.endpoint.public_host

    def bind_address(self) -> str:
        """Address ports are published on, on the engine's host: loopback, unless the engine is remote."""
        return "0.0.0.0" if self.endpoint.remote else "127.0.0.1"

    # -- the choke point -----------------------------------------------------------
    def client(self, plan: StackPlan | None = None):
        kwargs: dict[str, Any] = {}
        if self.context:
            kwargs["context"] = self.context
        if plan is not None:
            kwargs["compose_files"] = [str(plan.compose_file)]
            kwargs["compose_project_name"] = plan.compose_project
        return self._factory(**kwargs)

    def _run(self, what: str, call: Callable[[], Any], plan: StackPlan | None = None):
        """Run one python-on-whales call; failures become one line and a fix."""
        if self._factory is default_factory and not shutil.which("docker"):
            raise docker_cli_missing()
        try:
            return call()
        except Exception as exc:
            mapped = self._explain(exc, what, plan)
            if mapped is None:
                raise
            raise mapped from None

    def _docker(self, client, *args: str) -> str:
        """A docker command python-on-whales has no method for, run by its runner (same flags, same errors)."""
        from python_on_whales.utils import run

        return run(client.client_config.docker_cmd + list(args))

    # -- error mapping ----------------------------------------------------------------
    def _explain(self, exc: Exception, what: str, plan: StackPlan | None) -> UserError | None:
        from python_on_whales.client_config import ClientNotFoundError
        from python_on_whales.exceptions import DockerException

        if isinstance(exc, ClientNotFoundError):
            return docker_cli_missing()
        if not isinstance(exc, DockerException):
            return None
        text = "\n".join(t for t in (exc.stderr, exc.stdout) if t).strip()
        return explain(text, what, self, plan)

    # -- state -------------------------------------------------------------------------
    def boxes(self, plan: StackPlan) -> dict[str, Box]:
        """The project's containers by compose service name, as `docker container inspect` shows them.

        A local engine is asked over its socket (the Engine API the CLI uses; a
        millisecond, no process): this runs on `up`'s critical path and every
        half second while services start. Remote engines: through python-on-whales.
        """
        data = None
        if self.endpoint.host.startswith("unix://") and self._factory is default_factory:
            try:
                data = self._inspect_via_socket(plan)
            except (OSError, ValueError):
                data = None  # the CLI will say what is wrong
        if data is None:
            data = self._inspect_via_cli(plan)
        boxes: dict[str, Box] = {}
        for item in data:
            box = Box.from_inspect(item)
            # One container per service; prefer a running one if a stale one lingers.
            if box.service not in boxes or box.running:
                boxes[box.service] = box
        self._snapshot = (plan.compose_project, time.monotonic(), boxes)
        return boxes

    def _inspect_via_socket(self, plan: StackPlan) -> list[dict]:
        import urllib.parse

        filters = urllib.parse.quote(json.dumps({"label": [f"{PROJECT_LABEL}={plan.compose_project}"]}))
        listed = engine_mod.api_get(self.endpoint, f"/containers/json?all=1&filters={filters}")
        found = []
        for item in listed:
            try:
                found.append(engine_mod.api_get(self.endpoint, f"/containers/{item['Id']}/json"))
            except OSError:
                continue  # removed since it was listed
        return found

    def _inspect_via_cli(self, plan: StackPlan) -> list[dict]:
        client = self.client()
        label = f"{PROJECT_LABEL}={plan.compose_project}"
        ids = self._run("list containers", lambda: [c.id for c in client.container.list(all=True, filters=[("label", label)])], plan)
        return self._inspect(client, ids, plan) if ids else []

    def _inspect(self, client, ids: list[str], plan: StackPlan) -> list[dict]:
        from python_on_whales.exceptions import DockerException

        try:
            out = self._docker(client, "container", "inspect", *ids)
        except DockerException as exc:
            # A container removed between list and inspect: keep the others.
            if "No such" in (exc.stderr or "") and exc.stdout:
                out = exc.stdout
            else:
                mapped = self._explain(exc, "inspect containers", plan)
                raise (mapped or exc) from None
        except Exception as exc:
            mapped = self._explain(exc, "inspect containers", plan)
            if mapped is None:
                raise
            raise mapped from None
        return json.loads(out or "[]")

    def _recent_boxes(self, plan: StackPlan, max_age: float = 10.0) -> dict[str, Box]:
        """The snapshot running_services() just took in this command, else a fresh one."""
        if self._snapshot and self._snapshot[0] == plan.compose_project and time.monotonic() - self._snapshot[1] < max_age:
            return self._snapshot[2]
        return self.boxes(plan)

    def port_holder(self, port: int, protocol: str = "tcp") -> str:
        return holder(port, self, protocol)

    def running_services(self, plan: StackPlan) -> set[str]:
        boxes = self.boxes(plan)
        names = {name for name, box in boxes.items() if box.running and plan.services.get(name) and plan.services[name].in_container}
        stubs = self._stubs(plan)
        if stubs is not None:
            names |= stubs.running_services(plan)
        return names

    def recover(self, plan: StackPlan, progress) -> None:
        stubs = self._stubs(plan)  # the stand-ins are host processes: the same leftovers
        if stubs is not None:
            stubs.recover(plan, progress)

    # -- up ----------------------------------------------------------------------------
    def up(self, plan: StackPlan, progress: Progress) -> list[str]:
        services = [s for s in plan.services.values() if s.in_container]
        started: list[str] = []
        stubs = self._stubs(plan)
        if stubs is None:
            return self._up_containers(plan, services, progress) if services else []
        # Stand-ins (host processes) start beside the containers, at the same time.
        stubs_before = stubs.running_services(plan)
        stub_run = Background(lambda: stubs.up(plan, progress))
        try:
            started = self._up_containers(plan, services, progress) if services else []
        except BaseException:
            try:
                if stub_run.result() and not stubs_before:
                    stubs.down(plan, False, lambda message: None)  # all of them started by this call
            except BaseException:  # noqa: BLE001, S110 - the containers' failure is the one to report
                pass
            raise
        try:
            return started + stub_run.result()
        except BaseException:
            self._stop(plan, started)
            raise

    def _up_containers(self, plan: StackPlan, services: list[ServicePlan], progress: Progress) -> list[str]:
        from devstack import render

        text = render.current_compose(plan, bind=self.bind_address())
        digest = hashlib.sha256(text.encode()).hexdigest()
        before = self._recent_boxes(plan)
        to_start = [s.name for s in services if not (before.get(s.name) and before[s.name].running)]
        unchanged = self._state(plan).get("compose_sha256") == digest
        if not to_start and unchanged:
            # Idempotent: everything runs with this very file; just prove it answers.
            watch = _Watch(self, plan, before)
            try:
                self._wait_ready(plan, services, progress, watch)
            except ServiceFailed as exc:
                raise self._with_logs(exc, plan, failed_service(exc, plan), watch) from None
            return []

        if to_start and not self.endpoint.remote:
            check_ports(plan, [plan.services[n] for n in to_start], self.bind_address(), self)
        progress(f"  starting {', '.join(to_start) if to_start else 'changed services'} ({self.where()})")
        pulled = False
        while True:
            # The probe thread loads its clients while compose works, and probes each
            # service once its container has started: it is ready the moment it
            # answers, with no healthcheck interval to sit out.
            watch = _Watch(self, plan, previous=before)
            watch.events = self._start_events(plan, watch)  # closed when compose is done
            probes = Background(lambda watch=watch: self._warm_then_wait(plan, services, progress, watch))
            try:
                self._run("start containers", self._start_compose_up(plan), plan)
                break
            except BaseException as exc:
                watch.cancel(getattr(exc, "message", None) or str(exc))
                probes.join()
                if isinstance(exc, ImageMissing) and not pulled:
                    self._pull(plan, exc.images, progress)  # then try once more
                    pulled = True
                    continue
                self._stop(plan, to_start)
                raise
        if not unchanged:
            # A changed file may have recreated running containers too: compare ids.
            after = self.boxes(plan)
            to_start = [s.name for s in services if s.name in to_start or before.get(s.name) is None
                        or after.get(s.name) is None or after[s.name].id != before[s.name].id]
            watch.update(after)
        watch.compose_finished()
        try:
            probes.result()
        except ServiceFailed as exc:
            exc = self._with_logs(exc, plan, failed_service(exc, plan), watch)
            if to_start:
                progress(f"  stopping what this run started: {', '.join(to_start)}")
            self._stop(plan, to_start)
            raise exc from None
        self._save_state(plan, {"compose_sha256": digest, "engine": self.endpoint.host})
        return to_start

    def _start_events(self, plan: StackPlan, watch: _Watch) -> engine_mod.StartEvents | None:
        """Each container's start, as the engine reports it: its probe need not wait
        for compose to start the others (a local engine; else compose's exit is the gate)."""
        if self._factory is not default_factory:
            return None
        try:
            return engine_mod.StartEvents(self.endpoint, plan.compose_project, watch.service_started)
        except OSError:
            return None

    def compose_argv(self, plan: StackPlan, *args: str) -> list[str]:
        """What python-on-whales runs for `client(plan).compose.<command>` (tests/runtime check they agree)."""
        docker = shutil.which("docker")
        if docker is None:
            raise docker_cli_missing()
        context = ["--context", self.context] if self.context else []
        return [docker, *context, "compose", "--file", str(plan.compose_file), "--project-name", plan.compose_project, *args]

    def _start_compose_up(self, plan: StackPlan) -> Callable[[], None]:
        """Start `docker compose up --detach`; returns the call that waits for it (for `_run`).

        Importing python-on-whales takes ~0.3 s, a third of a warm `up`. So when it
        is not loaded yet, the command it would run (same argv, same environment)
        is started first and python-on-whales loads while compose works; a failure
        is raised as its DockerException, mapped by the same choke point.
        """
        if self._pow_loaded() or self._factory is not default_factory:
            client = self.client(plan)
            return lambda: client.compose.up(**UP_KWARGS)
        import subprocess

        argv, env = self.compose_argv(plan, *UP_ARGS), None
        plugin = engine_mod.compose_plugin() if not self.context and not self.endpoint.remote else None
        if plugin is not None:
            # The plugin binary itself, as the docker CLI would exec it, minus the
            # CLI's start-up and plugin discovery (~0.1 s): same flags, same engine.
            argv, env = [str(plugin), *argv[2:]], {**os.environ, "DOCKER_HOST": self.endpoint.host}
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

        def wait() -> None:
            out, err = proc.communicate()
            if proc.returncode:
                from python_on_whales.exceptions import DockerException

                raise DockerException(argv, proc.returncode, out, err)

        return wait

    @staticmethod
    def _pow_loaded() -> bool:
        return "python_on_whales" in sys.modules

    def _stop(self, plan: StackPlan, services: list[str]) -> None:
        """Best effort: stop the containers this run started (their logs stay readable)."""
        if not services:
            return
        client = self.client(plan)
        try:
            self._run("stop services", lambda: client.compose.stop(services=services, timeout=5), plan)
        except UserError:
            pass

    def absent_images(self, plan: StackPlan) -> list[str]:
        """Images of the plan's containers that the engine does not have (one docker call)."""
        from python_on_whales.exceptions import DockerException

        images = sorted({s.kind.image(s) for s in plan.services.values() if s.in_container and s.kind.image(s)})
        if not images:
            return []
        client = self.client()
        try:
            self._docker(client, "image", "inspect", "--format", "{{.Id}}", *images)
            return []
        except DockerException as exc:
            text = exc.stderr or ""
        except Exception:  # noqa: BLE001 - a diagnosis must not hide the first error
            return []
        return [img for img in images if re.search(r"(?i)no such image: " + re.escape(img) + r"(\s|$)", text)]

    def _pull(self, plan: StackPlan, images: list[str], progress: Progress) -> None:
        client = self.client()
        for image in images:
            progress(f"  pulling {image} ...")
            try:
                self._run(f"pull {image}", lambda image=image: client.image.pull(image, quiet=True), plan)
            except UserError as exc:
                raise image_unavailable(image, plan, exc.message) from None

    def _warm_then_wait(self, plan: StackPlan, services: list[ServicePlan], progress: Progress, watch: _Watch):
        warm_up(services, plan)
        return self._wait_ready(plan, services, progress, watch)

    def _wait_ready(self, plan: StackPlan, services: list[ServicePlan], progress: Progress, watch: _Watch):
        from devstack.readiness import wait_all

        return wait_all(services, plan, progress, timeout=READY_TIMEOUT,
                        alive_checks={s.name: watch.alive_check(s.name) for s in services},
                        gates={s.name: watch.gate(s.name) for s in services})

    def _with_logs(self, exc: ServiceFailed, plan: StackPlan, service: str | None, watch: _Watch) -> ServiceFailed:
        if not service:
            return exc
        tail = self.tail(plan, service, LOG_LINES)
        message = exc.message
        box = watch.boxes.get(service)
        if box and box.health == "unhealthy" and box.health_output and box.health_output not in message:
            message += f" (healthcheck: {box.health_output})"
        if tail:
            message += f"; last log lines of {service}:\n" + "\n".join("    " + line for line in tail)
        return ServiceFailed(message, f"`devstack logs {service}` shows its whole log; fix the cause and run `devstack up` again")

    def tail(self, plan: StackPlan, service: str, lines: int) -> list[str]:
        """The service's last log lines (empty when they cannot be read)."""
        if plan.services[service].on_host:  # a stand-in beside the containers: its log file
            stubs = self._stubs(plan)
            return stubs.tail(plan, service, lines) if stubs is not None else []
        client = self.client(plan)
        try:
            out = self._run("read logs", lambda: client.compose.logs(services=[service], tail=str(lines), no_log_prefix=True), plan)
        except UserError:
            return []
        return [line for line in (out or "").replace(ERASE_LINE, "").splitlines() if line.strip()][-lines:]

    # -- down --------------------------------------------------------------------------
    def down(self, plan: StackPlan, volumes: bool, progress: Progress) -> None:
        from devstack import render

        from devstack.errors import NotWritable

        stubs = self._stubs(plan)
        if stubs is not None:
            stubs.down(plan, volumes, progress)
        if plan.services:  # none: `down` from what `up` recorded (a broken manifest): that compose file as it is
            try:
                render.write_compose(plan, bind=self.bind_address())
            except NotWritable:
                if not plan.compose_file.exists():
                    raise
                # A read-only or full state dir: stop with the file the stack was started from.
        client = self.client(plan)
        self._run("stop the stack", lambda: client.compose.down(volumes=volumes, remove_orphans=True, timeout=10, quiet=True), plan)
        self._remove_leftovers(plan, volumes)
        try:
            self._save_state(plan, None)
        except OSError:
            pass  # read-only: the record of the last `up` stays; it names a digest, nothing that runs

    def _remove_leftovers(self, plan: StackPlan, volumes: bool) -> None:
        """What of the project the current file no longer names: networks (e.g. the
        per-project network of files rendered before services joined the default
        bridge) always, volumes (e.g. of a removed service) with --volumes."""
        client = self.client()
        label = [("label", f"{PROJECT_LABEL}={plan.compose_project}")]
        if volumes:
            vols = self._run("list volumes", lambda: client.volume.list(filters=label), plan)
            if vols:
                self._run("remove volumes", lambda: client.volume.remove(vols), plan)
        nets = self._run("list networks", lambda: client.network.list(filters=label), plan)
        if nets:
            self._run("remove networks", lambda: client.network.remove(nets), plan)

    # -- status / logs -----------------------------------------------------------------
    def status(self, plan: StackPlan) -> list[ServiceState]:
        boxes = self.boxes(plan) if any(s.in_container for s in plan.services.values()) else {}
        stubs = self._stubs(plan)
        stub_states = {s.name: s for s in stubs.status(plan)} if stubs is not None else {}
        states = []
        for svc in plan.services.values():
            if svc.on_host and svc.name in stub_states:
                states.append(stub_states[svc.name])
                continue
            state, detail = "stopped", ""
            if svc.mode == "off":
                state = "off"
            elif svc.mode == "external":
                state, detail = "external", str(svc.outputs.get("url", ""))
            elif svc.on_host:
                detail = "stand-in on this machine"
            else:
                box = boxes.get(svc.name)
                state, detail = box_state(svc, box)
            states.append(ServiceState(svc.name, svc.kind.name, svc.mode, state, None, detail, dict(svc.ports)))
        return states

    def logs(self, plan: StackPlan, service: str, follow: bool, lines: int) -> None:
        svc = plan.services[service]
        if svc.on_host:
            stubs = self._stubs(plan)
            if stubs is None:
                raise UserError(f"{service} runs on this machine (a stand-in), and the native runtime that runs stand-ins is missing",
                                "reinstall devstack")
            return stubs.logs(plan, service, follow, lines)
        if svc.mode != "run":
            raise UserError(f"{service} runs nothing here (mode: {svc.mode})", "only `mode: run` and `mode: stub` services have logs")
        if service not in self.boxes(plan):
            raise UserError(f"{service} has no container in {plan.compose_project}", "start the stack with `devstack up`")
        from devstack import render

        if not plan.compose_file.exists():
            render.write_compose(plan, bind=self.bind_address())
        client = self.client(plan)
        stream = self._run("read logs", lambda: client.compose.logs(services=[service], tail=str(lines), follow=follow,
                                                                     no_log_prefix=True, stream=True), plan)
        out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
        self._run("read logs", lambda: _pump(stream, out), plan)

    # -- helpers -----------------------------------------------------------------------
    def _stubs(self, plan: StackPlan):
        if not any(s.on_host for s in plan.services.values()):
            return None
        if self._stubs_rt is None:
            try:
                from devstack.runtime.native import NativeRuntime
            except ImportError:
                raise UserError("`mode: stub` services need devstack's native runtime, which is not installed here",
                                "reinstall devstack, or set these services to `mode: run` or `off`") from None
            self._stubs_rt = NativeRuntime(stubs_only=True)
        return self._stubs_rt

    def _state(self, plan: StackPlan) -> dict:
        from devstack.fsutil import read_json

        return read_json(plan.state_dir / STATE_FILE)

    def _save_state(self, plan: StackPlan, state: dict | None) -> None:
        path = plan.state_dir / STATE_FILE
        if state is None:
            path.unlink(missing_ok=True)
            return
        from devstack.fsutil import write_private

        write_private(path, json.dumps(state, indent=1) + "\n")


# -- readiness plumbing ------------------------------------------------------------------

class _Watch:
    """Container states for the alive checks, shared by the probe threads and read at most every `every` s.

    Nothing is judged before compose has finished and a snapshot was taken after
    it (until then containers are being created or replaced).
    """

    def __init__(self, rt: DockerRuntime, plan: StackPlan, boxes: dict[str, Box] | None = None,
                 previous: dict[str, Box] | None = None, every: float = 0.5, grace: float = 0.3):
        self.rt, self.plan, self.every, self.grace = rt, plan, every, grace
        self.boxes: dict[str, Box] = {}
        self.baseline: dict[str, tuple[str, int]] = {}  # service -> (container id, restarts when first seen)
        self.lock = threading.Lock()
        self.read_at = 0.0
        self.done_at: float | None = None
        self.fresh = False
        self.cancelled: str | None = None
        # Set when the service's container started in this run, else when compose is done.
        self.started = {name: threading.Event() for name in plan.services}
        self.events: engine_mod.StartEvents | None = None  # what sets them first, on a local engine
        # Containers that existed before: their past restarts do not count. New ones start at 0.
        self.old_ids = {box.id for box in (previous or boxes or {}).values()}
        if boxes is not None:  # already up: these are current
            self.compose_finished()
            self.update(boxes)

    def compose_finished(self) -> None:
        self.done_at = time.monotonic()
        if self.events is not None:
            self.events.close()
        for event in self.started.values():
            event.set()

    def cancel(self, reason: str) -> None:
        self.cancelled = reason or "cancelled"
        self.compose_finished()

    def service_started(self, name: str) -> None:
        if name in self.started:
            self.started[name].set()

    def gate(self, name: str) -> Callable[[], None]:
        """Blocks until the service may be probed: not before its container runs, as
        docker-proxy listens before the container's network is up and a connection
        made then hangs for a SYN retransmit (~1 s)."""
        def wait() -> None:
            self.started[name].wait()
            if self.cancelled:
                raise ServiceFailed(f"{name} not started: {self.cancelled}")

        return wait

    def update(self, boxes: dict[str, Box]) -> None:
        with self.lock:
            for name, box in boxes.items():
                if self.baseline.get(name, ("",))[0] != box.id:
                    self.baseline[name] = (box.id, box.restarts if box.id in self.old_ids else 0)
            self.boxes = dict(boxes)
            self.read_at = time.monotonic()
            self.fresh = True

    def _refresh(self) -> None:
        now = time.monotonic()
        if self.done_at is None or now - self.done_at < self.grace or now - self.read_at < self.every:
            return
        with self.lock:
            if time.monotonic() - self.read_at < self.every:
                return
            self.read_at = time.monotonic()  # also when the read fails: do not hammer the engine
        try:
            boxes = self.rt.boxes(self.plan)
        except UserError:
            return
        self.update(boxes)

    def alive_check(self, name: str) -> Callable[[], str | None]:
        def check() -> str | None:
            if self.cancelled:
                return f"not started: {self.cancelled}"
            self._refresh()
            if not self.fresh:
                return None
            box = self.boxes.get(name)
            if box is None:
                return "its container is gone"
            return box_trouble(box, self.baseline.get(name, ("", 0))[1])

        return check


WARM_HOST = "127.0.0.2"  # loopback, yet nothing of the stack listens there


def warm_up(services: list[ServicePlan], plan: StackPlan) -> None:
    """Run each kind's probe once against an address where nothing answers.

    It fails at once, having imported its client library (psycopg, redis...), so
    that cost is paid while compose creates containers, not after.
    """
    import dataclasses

    from devstack.plan import service_outputs

    for svc in services:
        try:
            twin = dataclasses.replace(svc, host=WARM_HOST)
            twin.outputs = service_outputs(twin, plan)
            svc.kind.ready(twin, plan)
        except Exception:  # noqa: BLE001, S110 - expected to fail; only the imports matter
            pass


def box_trouble(box: Box, baseline_restarts: int = 0) -> str | None:
    """Why this container will not become ready (None while it may still)."""
    if box.status in ("exited", "dead"):
        return f"container {box.status} (exit code {box.exit_code})"
    if box.status == "restarting" or box.restarts > baseline_restarts:
        return f"container keeps restarting (last exit code {box.exit_code})"
    if box.health == "unhealthy":
        return "container unhealthy" + (f": {box.health_output}" if box.health_output else "")
    if box.status in ("created", "paused", "removing"):
        return None if box.status == "created" else f"container {box.status}"
    return None


def box_state(svc: ServicePlan, box: Box | None) -> tuple[str, str]:
    """ServiceState.state and detail for a container (or its absence)."""
    if box is None:
        return "stopped", "no container"
    where = ", ".join(f"{svc.host}:{port}" for port in svc.ports.values())
    health = box.health or ("running" if box.running else box.status)
    detail = f"{where} {box.image} ({health})".strip()
    if box.running and box.health in (None, "healthy"):
        return "ready", detail
    if box.running and box.health == "starting":
        return "running", detail
    if box.status == "exited" and box.exit_code == 0:
        return "stopped", f"{box.image} (exited)"
    trouble = box_trouble(box) or box.status
    return "dead", f"{box.image} ({trouble})"


ERASE_LINE = "\x1b[2K"  # compose's log printer puts it before lines even when not on a terminal


def _pump(stream, out) -> None:
    for source, line in stream:
        target = out.get(source, out["stdout"])
        target.write(line.replace(ERASE_LINE.encode(), b""))
        target.flush()


def failed_service(exc: ServiceFailed, plan: StackPlan) -> str | None:
    """readiness messages start with the service's name."""
    first = exc.message.split(" ", 1)[0]
    return first if first in plan.services else None
