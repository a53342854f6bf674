"""Docker runtime errors: one line each, with the fix (what compose said, made readable)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from devstack.errors import UserError
from devstack.plan import ServicePlan, StackPlan

if TYPE_CHECKING:  # pragma: no cover
    from devstack.runtime.docker import DockerRuntime


class ImageMissing(UserError):
    def __init__(self, images: list[str], message: str, hint: str):
        super().__init__(message, hint)
        self.images = images


def docker_cli_missing() -> UserError:
    return UserError("the docker CLI is not installed (no `docker` on PATH)",
                     "install Docker (Debian: `apt-get install docker.io`), or run the stack natively with `--runtime native`")


def compose_missing() -> UserError:
    return UserError("the docker compose v2 plugin is missing (`docker compose` is not a docker command here)",
                     "install it: `apt-get install docker-compose-plugin` from Docker's apt repo, or put the `docker-compose` "
                     "v2 binary into ~/.docker/cli-plugins/; `docker compose version` must answer")


def image_unavailable(image: str, plan: StackPlan | None, reason: str = "") -> UserError:
    owners = [s.name for s in (plan.services.values() if plan else []) if s.in_container and s.kind.image(s) == image]
    option = f"services.{owners[0]}.image" if owners else "the service's `image:`"
    why = f" ({reason})" if reason else ""
    return UserError(f"image {image} not present and cannot be pulled{why}",
                     f"build or load it (`docker build -t {image} ...` / `docker load`), set {option} in the manifest to an image "
                     "the engine has, or run the stack as local processes: `devstack up --runtime native`")


def engine_unreachable(rt: DockerRuntime | None, line: str) -> UserError:
    where = rt.where() if rt else "the docker engine"
    if "permission denied" in line.lower():
        return UserError(f"not allowed to talk to {where}: {line}",
                         "add yourself to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or use --runtime native")
    return UserError(f"cannot reach {where}: {line}",
                     "start the engine (`sudo systemctl start docker`, or `dockerd`), check DOCKER_HOST / --context, or use --runtime native")


ENGINE_DOWN = ("Cannot connect to the Docker daemon", "error during connect", "Is the docker daemon running",
               "permission denied while trying to connect", "ssh: connect to host", "ssh: Could not resolve hostname")
PORT_TAKEN = re.compile(r"(?:Bind for |listen (?:tcp|udp)[46]? )\[?[0-9a-fA-F.:]*?\]?:(\d+)(?: failed|: bind)"
                        r"|port is already allocated|address already in use")
IMAGE_GONE = ("pull access denied", "No such image", "no such image", "manifest unknown", "failed to resolve reference",
              "repository does not exist", "not found: manifest", "registry-1.docker.io", "Pulling")


def reason_line(text: str) -> str:
    """The one line of compose's output that says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"\berror\b|failed|denied|no such|cannot|unable", line, re.IGNORECASE):
            return re.sub(r"^(Error response from daemon:|Error:|error:)\s*", "", line)
    return lines[-1] if lines else "no output"


def explain(text: str, what: str, rt: DockerRuntime | None, plan: StackPlan | None) -> UserError:
    """compose/docker output -> one line + the fix."""
    line = reason_line(text)
    if "is not a docker command" in text or "unknown command: docker compose" in text:
        return compose_missing()
    if any(marker in text for marker in ENGINE_DOWN):
        return engine_unreachable(rt, line)
    match = PORT_TAKEN.search(text)
    if match:
        return port_taken(int(match.group(1)) if match.group(1) else None, plan, rt, line)
    if any(marker in text for marker in IMAGE_GONE):
        images = rt.absent_images(plan) if rt is not None and plan is not None else []
        if images:
            return ImageMissing(images, f"image {images[0]} is not present on the engine", "devstack pulls it")
        return UserError(f"{what} failed: {line}", "an image could not be found or pulled: build it, or set the service's `image:`")
    return UserError(f"{what} failed: {line}", "`devstack doctor` checks docker's setup; `devstack logs SERVICE` shows a service's output")


def port_taken(port: int | None, plan: StackPlan | None, rt: DockerRuntime | None, line: str) -> UserError:
    owner = ""
    if plan is not None and port:
        owner = next((f" (wanted by {s.name}.{p})" for s in plan.services.values() for p, v in s.ports.items() if v == port), "")
    who = holder(port, rt) if port else ""
    if port:
        message = f"port {port}{owner} is already taken" + (f" by {who}" if who else "") + (" on the engine's host" if rt and rt.endpoint.remote else "")
    else:
        message = f"a port is already taken: {line}"
    svc_opt = next((f"services.{s.name}.{p}" for s in (plan.services.values() if plan else []) for p, v in s.ports.items() if v == port), "the service's port option")
    return UserError(message, f"stop whatever holds it, or set {svc_opt} to a free port in the manifest (unset lets devstack pick one)")


def check_ports(plan: StackPlan, services: list[ServicePlan], bind: str, rt: DockerRuntime) -> None:
    """Before starting: every port a new container publishes must be free here."""
    for svc in services:
        for pname, port in svc.ports.items():
            spec = svc.kind.ports.get(pname)
            count = spec.count if spec else 1
            protocols = {"both": ("tcp", "udp")}.get(spec.protocol if spec else "tcp", (spec.protocol if spec else "tcp",))
            for p in range(port, port + count):
                if not all(bindable(p, proto, bind) for proto in protocols):
                    error = port_taken(p, plan, rt, "")
                    if not svc.options.get(pname):  # a port devstack chose, taken since: `up` moves it and retries
                        error.port_taken_by_race = svc.name
                    raise error


def bindable(port: int, protocol: str, host: str) -> bool:
    """Could docker-proxy bind it? (SO_REUSEADDR for TCP, like Go's listeners: a TIME_WAIT is no conflict.)"""
    from devstack.ports import is_free

    return is_free(port, protocol, host)


def holder(port: int, rt: DockerRuntime | None = None, protocol: str = "tcp") -> str:
    """Who holds `port`: a container's name when the engine publishes it, else the process."""
    from devstack.ports import port_holder

    if rt is not None and rt.endpoint.remote:  # not this machine's processes: only the engine knows
        name = publishing_container(port, rt)
        return f"container {name}" if name else "another program on the engine's host"
    found = port_holder(port, protocol)
    if "docker-proxy" in found:
        name = publishing_container(port, rt)
        if name:
            return f"container {name}"
    return found


def publishing_container(port: int, rt: DockerRuntime | None) -> str:
    if rt is None:
        return ""
    client = rt.client()
    try:
        out = rt._run("find the port's container", lambda: rt._docker(client, "container", "ls", "--filter", f"publish={port}", "--format",
                                                                        '{{.Names}}\t{{.Label "com.docker.compose.project"}}'))
    except UserError:
        return ""
    found = []
    for line in out.splitlines():
        name, _, project = line.partition("\t")
        if name.strip():
            found.append(name.strip() + (f" (compose project {project.strip()})" if project.strip() else ""))
    return ", ".join(found)
