"""Manifest -> StackPlan: ports, credentials, outputs and the app's env.

Everything downstream (compose file, native processes, .env, fixtures) reads
the plan; nothing re-derives ports, passwords or URLs on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.errors import ManifestError, Problem
from devstack.manifest import Manifest
from devstack.ports import PortBook
from devstack.secrets import SecretStore, placeholder
from devstack.services import catalog
from devstack.services.base import Kind

LOOPBACK = "127.0.0.1"


class Outputs(dict):
    """A service's outputs; `{{ db.url }}` reads keys as attributes."""

    def __init__(self, service: str, values: dict, lenient: bool = False):
        super().__init__(values)
        self.service = service
        self.lenient = lenient  # `mode: off`: any output reads as ""

    def __missing__(self, key):
        if self.lenient:
            return ""
        raise KeyError(key)


@dataclass
class ServicePlan:
    name: str
    kind: Kind
    mode: str
    options: dict[str, Any]
    ports: dict[str, int]
    host: str
    state_dir: Path
    seed: Any = None
    outputs: Outputs = field(default_factory=lambda: Outputs("", {}))
    line: int | None = None  # of its entry in the manifest, for errors that name the service

    @property
    def runs(self) -> bool:
        """Something of ours runs for it (the real thing or a stand-in)."""
        return self.mode in ("run", "stub")

    @property
    def on_host(self) -> bool:
        """A process on this machine under either runtime (stand-ins; the Stripe emulator)."""
        return self.runs and self.kind.runs_on_host(self.mode, self.options)

    @property
    def in_container(self) -> bool:
        """A container under the Docker runtime."""
        return self.mode == "run" and not self.on_host


@dataclass
class StackPlan:
    project: str
    root: Path
    manifest_path: Path
    state_dir: Path
    runtime: str
    services: dict[str, ServicePlan]
    env: dict[str, str]
    env_file: Path
    secrets: dict[str, Any]
    tools: dict[str, str]
    port_moves: list = field(default_factory=list)  # ports.PortMove: kept ports taken meanwhile, moved
    outside_dirs: list[Path] = field(default_factory=list)  # the manifest's `allow_outside_project:`
    pinned_taken: list = field(default_factory=list)  # (service.option, port): ports the manifest sets, held by another program
    manifest: Manifest | None = field(default=None, repr=False)

    def env_with(self, changes: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The app's env as it would be with some options of some services changed,
        {service: {option: value}} (a seed migrating a database built beside the
        app's one; a test's own database, Redis db and bucket)."""
        import dataclasses

        variant = dataclasses.replace(self, services=dict(self.services))
        for service, options in changes.items():
            svc = self.services[service]
            changed = dataclasses.replace(svc, options={**svc.options, **options})
            changed.outputs = service_outputs(changed, variant)
            variant.services[service] = changed
        return build_env(self.manifest, variant) if self.manifest else dict(self.env)

    @property
    def compose_project(self) -> str:
        return "devstack-" + re.sub(r"[^a-z0-9_-]", "-", self.project.lower())

    @property
    def compose_file(self) -> Path:
        return self.state_dir / "compose.yaml"

    def running(self) -> list[ServicePlan]:
        return [s for s in self.services.values() if s.runs]


def build(manifest: Manifest, host: str = LOOPBACK, recheck_ports: set[str] | None = None, persist: bool = True,
          move_ports: set[str] | None = None) -> StackPlan:
    """recheck_ports: names of services about to start, whose kept ports must be free now.

    persist: save newly generated credentials and ports (under the state lock,
    once). False for read-only commands: nothing is written, not even .devstack/.
    """
    if not persist:
        return _build(manifest, host, recheck_ports, False, move_ports)
    from devstack.lock import state_lock

    with state_lock(manifest.state_dir):
        return _build(manifest, host, recheck_ports, True, move_ports)


def _build(manifest: Manifest, host: str, recheck_ports: set[str] | None, persist: bool, move_ports: set[str] | None = None) -> StackPlan:
    state = manifest.state_dir
    store = SecretStore(state / "secrets.json", persist=persist)
    services: dict[str, ServicePlan] = {}
    port_requests = []
    for name, spec in manifest.services.items():
        kind = catalog.get(spec.kind)
        options = dict(spec.options)
        for key, option in kind.options.items():
            if option.generate and options.get(key) is None and spec.mode != "off":
                options[key] = store.get("services", f"{name}.{key}", option.generate)
        # Stand-ins run on this machine even when containers run on a remote engine.
        svc_host = host if spec.mode == "run" and not kind.runs_on_host(spec.mode, options) else LOOPBACK
        services[name] = ServicePlan(name, kind, spec.mode, options, {}, svc_host, state / name, spec.seed, line=spec.line)
        if spec.mode in ("run", "stub"):
            for pname, port in kind.ports.items():
                well_known = port.container if pname == next(iter(kind.ports)) else 0
                port_requests.append((f"{name}.{pname}", well_known, port.count, port.protocol, options.get(pname)))
    book = PortBook(state, manifest.root, persist=persist)
    assigned = book.assign(port_requests, recheck_ports, move_ports)
    for key, port in assigned.items():
        name, pname = key.split(".", 1)
        services[name].ports[pname] = port
    secrets = {name: store.get("secrets", name, spec.type, spec.bytes) for name, spec in manifest.secrets.items()}
    store.save()

    plan = StackPlan(
        project=manifest.project,
        root=manifest.root,
        manifest_path=manifest.path,
        state_dir=state,
        runtime=manifest.runtime,
        services=services,
        env={},
        env_file=manifest.env_file,
        secrets=secrets,
        tools=manifest.tools,
        port_moves=book.moved,
        outside_dirs=manifest.outside_dirs,
        pinned_taken=book.pinned_taken,
        manifest=manifest,
    )
    for svc in services.values():
        svc.outputs = service_outputs(svc, plan)
    plan.env = build_env(manifest, plan)
    return plan


def service_outputs(svc: ServicePlan, plan: StackPlan) -> Outputs:
    if svc.mode == "off":
        return Outputs(svc.name, {"enabled": "false"}, lenient=True)
    values = svc.kind.external_outputs(svc) if svc.mode == "external" else svc.kind.outputs(svc, plan)
    return Outputs(svc.name, {**values, "enabled": "true", "mode": svc.mode})


def build_env(manifest: Manifest, plan: StackPlan) -> dict[str, str]:
    from devstack import expressions

    env: dict[str, str] = {}
    problems: list[Problem] = []
    claimed: set[str] = set()
    if manifest.env_defaults:
        for svc in plan.services.values():
            if svc.mode == "off":
                continue
            prefix = "" if is_primary(svc, plan) else svc.name.upper() + "_"
            # Two kinds with one name (postgres and mariadb: DATABASE_URL): the first
            # service keeps its names, the next one gets all of its own prefixed.
            if not prefix and claimed.intersection(svc.kind.default_env):
                prefix = svc.name.upper() + "_"
            claimed.update(prefix + var for var in svc.kind.default_env)
            for var, expr in svc.kind.default_env.items():
                try:
                    env[prefix + var] = expressions.render(expr, svc.outputs)
                except expressions.ExpressionError:
                    continue  # e.g. an external URL that carries no user: nothing to export
    context = expressions.context(plan)
    for var, expr in manifest.env.items():
        try:
            env[var] = expressions.render(expr, context)
        except expressions.ExpressionError as exc:
            problems.append(Problem(str(exc), f"env.{var}", manifest.line("env", var), exc.hint))
    if problems:
        raise ManifestError(str(manifest.path), problems)
    return env


def env_problems(manifest: Manifest) -> list[Problem]:
    """Every `env:` expression rendered against a preview of the plan (placeholder
    credentials, ports and secrets: nothing generated, read or written), so its
    mistakes join the manifest's one report. Expressions naming a service whose
    problems are reported already render leniently."""
    from devstack import expressions

    if not manifest.env:
        return []
    services: dict[str, ServicePlan] = {}
    for name, spec in manifest.services.items():
        kind = catalog.get(spec.kind)
        options = dict(spec.options)
        for key, option in kind.options.items():
            if option.generate and options.get(key) is None and spec.mode != "off":
                options[key] = placeholder(option.generate)
        ports = {p: options.get(p) or port.container or 1 for p, port in kind.ports.items()} if spec.mode in ("run", "stub") else {}
        services[name] = ServicePlan(name, kind, spec.mode, options, ports, LOOPBACK, manifest.state_dir / name, spec.seed, line=spec.line)
    secrets = {name: placeholder(spec.type) for name, spec in manifest.secrets.items()}
    plan = StackPlan(manifest.project, manifest.root, manifest.path, manifest.state_dir, manifest.runtime, services, {},
                     manifest.env_file, secrets, manifest.tools)
    for svc in services.values():
        try:
            svc.outputs = service_outputs(svc, plan)
        except Exception:
            if svc.name not in manifest.flawed:
                raise  # a valid service whose outputs fail is devstack's bug
            svc.outputs = Outputs(svc.name, {}, lenient=True)  # its options are reported wrong already
    context = expressions.context(plan)
    for name in manifest.flawed - set(services):
        context.setdefault(name, Outputs(name, {}, lenient=True))
    problems = []
    for var, expr in manifest.env.items():
        try:
            expressions.render(expr, context)
        except expressions.ExpressionError as exc:
            problems.append(Problem(str(exc), f"env.{var}", manifest.line("env", var), exc.hint))
    return problems


def recorded(manifest_path: Path) -> StackPlan:
    """What `down` knows of a stack whose manifest no longer loads: its state
    directory (pid files) and the compose project its last render recorded."""
    root = Path(manifest_path).parent
    state = root / ".devstack"
    project = root.name
    try:
        with open(state / "compose.yaml", encoding="utf-8") as handle:
            for line in handle:
                found = re.match(r"^name: ['\"]?devstack-([^'\"\s]+)", line)
                if found:
                    project = found.group(1)
                    break
    except OSError:
        pass
    return StackPlan(project, root, Path(manifest_path), state, "auto", {}, {}, root / ".env", {}, {})


def is_primary(svc: ServicePlan, plan: StackPlan) -> bool:
    """The instance that gets the kind's default variable names unprefixed."""
    same = [s for s in plan.services.values() if s.kind.name == svc.kind.name and s.mode != "off"]
    named = [s for s in same if s.name == s.kind.name]
    return svc is (named[0] if named else same[0])

