"""A session stack's containers, through testcontainers.

Same catalog and images as `devstack up`: each service is its rendered compose
fragment (image, command, environment, healthcheck) started as a testcontainers
`DockerContainer` on a random loopback host port (ports a server announces to
its clients, such as TURN's, keep the plan's port), labelled with the session.
testcontainers' wait strategy sees the container running; then devstack's
real-protocol probes say when each service answers, as in `devstack up`.
Nothing is kept: no named volumes, no restart policy.

Ryuk (testcontainers' reaper) stays on where its image is present; otherwise,
and under pytest-xdist (whose workers end one by one, and Ryuk would reap a
stack the others still use), it is turned off and the session's watcher
removes the containers by label.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

from devstack.errors import ServiceFailed, UserError

READY_TIMEOUT = float(os.environ.get("DEVSTACK_READY_TIMEOUT", "90"))
PORT_RE = re.compile(r"^(?:(?P<ip>[0-9.]+|\[[0-9a-f:]+\]):)?(?P<host>\d+(?:-\d+)?):(?P<container>\d+(?:-\d+)?)(?:/(?P<proto>tcp|udp))?$")


def _testcontainers():
    try:
        from testcontainers.core import container, wait_strategies
        from testcontainers.core.config import testcontainers_config
    except ImportError:
        raise UserError("the Docker test stack starts its containers with testcontainers, which is not installed",
                        "pip install 'devstack[pytest]' (or testcontainers), or run with --devstack-runtime native") from None
    return container, wait_strategies, testcontainers_config


def configure(rt) -> dict:
    """Point testcontainers at devstack's engine; returns the docker client arguments."""
    _, _, config = _testcontainers()
    endpoint = rt.endpoint
    # Ports are reached where devstack reaches them (loopback, or a remote engine's host),
    # not at a bridge gateway testcontainers may guess from inside a container.
    config.tc_host_override = rt.public_host()
    from testcontainers.core.config import ConnectionMode

    config.connection_mode_override = ConnectionMode.docker_host
    kwargs = {"environment": {**os.environ, "DOCKER_HOST": endpoint.host}} if endpoint.host else {}
    if os.environ.get("TESTCONTAINERS_RYUK_DISABLED") is None:
        config.ryuk_disabled = os.environ.get("PYTEST_XDIST_WORKER") is not None or not _image_present(config.ryuk_image, kwargs)
    return kwargs


def _image_present(image: str, client_kwargs: dict) -> bool:
    import docker

    try:
        client = docker.from_env(**client_kwargs)
        try:
            client.images.get(image)
            return True
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - absent, or the engine will say why when a container starts
        return False


def up(project, rt, progress, label: tuple[str, str]):
    """Start the session's services -> (plan, {service: {port option: host port}}, container ids)."""
    from devstack import render
    client_kwargs = configure(rt)
    plan = project.plan(host=rt.public_host())
    from devstack.seed import prepare, seed_stack

    jobs = prepare(plan, lines=project.manifest.lines)  # a `seed:` mistake fails before anything starts
    compose = render.compose_dict(plan, bind=rt.bind_address())["services"]
    services = [s for s in plan.services.values() if s.in_container]
    progress(f"devstack: test stack {plan.project} on docker ({rt.where()}), through testcontainers")
    started: dict[str, object] = {}
    try:
        with ThreadPoolExecutor(max(1, len(services))) as pool:
            futures = {svc.name: pool.submit(_start, svc, compose[svc.name], plan, label, client_kwargs) for svc in services}
            failures = []
            for name, future in futures.items():
                try:
                    started[name] = future.result()
                except Exception as exc:  # noqa: BLE001 - every failure is reported, the first raised
                    failures.append((name, exc))
            if failures:
                name, exc = failures[0]
                raise ServiceFailed(f"{name}: its container did not start: {getattr(exc, 'message', None) or exc}",
                                    "is the image there? (`docker image ls`); the docker tests build theirs with tests/docker/images/build.sh")
        ports = {name: _host_ports(svc, compose[name], started[name]) for name, svc in
                 ((s.name, s) for s in services)}
        apply_ports(plan, project.manifest, ports)
        from devstack.readiness import wait_all

        wait_all(services, plan, progress, timeout=READY_TIMEOUT, alive_checks={s.name: _alive(started[s.name]) for s in services})
        if any(s.on_host for s in plan.services.values()):
            _up_stubs(project, rt, plan, ports, progress)
        render.write_env(plan)
        seed_stack(plan, progress, first_start_only=True, jobs=jobs)
    except BaseException:
        for container in started.values():
            _stop(container)
        remove(*label, context=project.context)  # also those created but never started
        raise
    ids = [c.get_container_id() for c in started.values()]
    return plan, ports, ids


def apply_ports(plan, manifest, ports: dict) -> None:
    """Put the host ports a runtime chose (testcontainers' random ones) into the plan, and
    derive its outputs and env again from them."""
    from devstack.plan import build_env, service_outputs

    for name, mapping in ports.items():
        plan.services[name].ports.update({k: int(v) for k, v in mapping.items()})
    for svc in plan.services.values():
        svc.outputs = service_outputs(svc, plan)
    plan.env = build_env(manifest, plan)


def _up_stubs(project, rt, plan, ports: dict, progress) -> None:
    """devstack's stand-ins, as host processes (as `devstack up` runs them beside containers)."""
    from devstack.runtime.native import NativeRuntime
    stubs = NativeRuntime(stubs_only=True)
    try:
        stubs.up(plan, progress)
    except ServiceFailed as exc:
        if not exc.port_taken_by_race:
            raise
        # Another program bound a port we had just found free: plan again (that port is
        # now seen as taken, so it moves) and start once more, as `devstack up` does.
        progress(f"  {exc.port_taken_by_race}: another program took its port while it started; picking another")
        names = {s.name for s in plan.services.values() if s.on_host}
        fresh = project.plan(host=rt.public_host(), recheck_ports=names, move_ports={exc.port_taken_by_race})
        for name in names:
            plan.services[name].ports = fresh.services[name].ports
        apply_ports(plan, project.manifest, ports)
        stubs.up(plan, progress)


def _start(svc, spec: dict, plan, label: tuple[str, str], client_kwargs: dict):
    container_mod, waits, _ = _testcontainers()
    container = container_mod.DockerContainer(spec["image"], docker_client_kw=client_kwargs)
    if spec.get("command"):
        container.with_command(spec["command"])
    for key, value in (spec.get("environment") or {}).items():
        container.with_env(key, str(value))
    first_tcp = None
    for entry in spec.get("ports") or []:
        mapping = _parse_port(entry)
        container_port, host_port, proto, ip = mapping
        if host_port:  # a server that announces its port (TURN relays): the same port inside and out
            for inner, outer in zip(_port_range(container_port), _port_range(host_port), strict=True):
                container.ports[f"{inner}/{proto}"] = (ip, outer)
        else:
            container.ports[f"{container_port}/{proto}"] = (ip, None)  # docker picks a free one
        if proto == "tcp" and first_tcp is None:
            first_tcp = _port_range(container_port)[0]
    labels = {**(spec.get("labels") or {}), label[0]: label[1], "dev.devstack.service": svc.name}
    kwargs = {"labels": labels, "network": spec.get("network_mode") or "bridge"}
    if spec.get("healthcheck"):
        kwargs["healthcheck"] = _healthcheck(spec["healthcheck"])
    container.with_kwargs(**kwargs)
    container.with_name(f"{plan.compose_project}-{svc.name}")
    strategy = waits.PortWaitStrategy(first_tcp) if first_tcp else waits.ContainerStatusWaitStrategy()
    container.waiting_for(strategy.with_startup_timeout(int(READY_TIMEOUT)).with_poll_interval(0.05))
    container.start()
    return container


def _parse_port(entry: str):
    """'127.0.0.1:5432:5432/tcp' -> (container port(s), host port to keep or None, protocol, bind ip)."""
    match = PORT_RE.match(str(entry))
    if not match:
        raise UserError(f"cannot read the port mapping {entry!r} of a compose template")
    host, inner = match["host"], match["container"]
    keep = host if "-" in host or host == inner else None
    return inner, keep, match["proto"] or "tcp", match["ip"] or "127.0.0.1"


def _port_range(text) -> list[int]:
    first, _, last = str(text).partition("-")
    return list(range(int(first), int(last or first) + 1))


def _host_ports(svc, spec: dict, container) -> dict[str, int]:
    """The plan's port options, moved to the host ports docker picked."""
    by_plan_port = {port: name for name, port in svc.ports.items()}
    found = {}
    for entry in spec.get("ports") or []:
        inner, keep, proto, _ = _parse_port(entry)
        planned = int(PORT_RE.match(str(entry))["host"].split("-")[0])
        option = by_plan_port.get(planned)
        if option is None or keep:
            continue
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        binds = (wrapped.attrs.get("NetworkSettings") or {}).get("Ports", {}).get(f"{inner}/{proto}") or []
        if binds:
            found[option] = int(binds[0]["HostPort"])
    return found


def _healthcheck(check: dict) -> dict:
    """Compose's healthcheck (durations as text) in the Engine API's terms (nanoseconds)."""
    out = {"test": check["test"]}
    for key in ("interval", "timeout", "start_period"):
        if key in check:
            out[key] = _nanoseconds(check[key])
    if "retries" in check:
        out["retries"] = int(check["retries"])
    return out


def _nanoseconds(value) -> int:
    text = str(value).strip()
    units = {"ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return int(float(text[: -len(unit)]) * units[unit])
    return int(float(text) * 1e9)


def _alive(container):
    def check() -> str | None:
        wrapped = container.get_wrapped_container()
        try:
            wrapped.reload()
        except Exception as exc:  # noqa: BLE001
            return f"its container is gone ({exc})"
        state = wrapped.attrs.get("State") or {}
        if state.get("Status") in ("exited", "dead"):
            tail = wrapped.logs(tail=15).decode(errors="replace").strip()
            return f"exit code {state.get('ExitCode')}" + (f"; last log lines:\n{tail}" if tail else "")
        return None

    return check


def _stop(container) -> None:
    try:
        container.stop(force=True, delete_volume=True)
    except Exception:  # noqa: BLE001, S110 - the start failure is the one to report; remove() by label follows
        pass


def remove(label_key: str, label_value: str, context: str | None = None) -> list[str]:
    """Remove every container of the session (by label) with its anonymous volumes; returns their names."""
    try:
        import docker
    except ImportError:
        return []
    from devstack.runtime.engine import resolve

    try:
        endpoint = resolve(context)
        kwargs = {"environment": {**os.environ, "DOCKER_HOST": endpoint.host}} if endpoint.host else {}
        client = docker.from_env(timeout=10, **kwargs)
        client.ping()
    except Exception:  # noqa: BLE001 - no engine answers: it runs no container of ours
        return []
    try:
        names = []
        for container in client.containers.list(all=True, filters={"label": f"{label_key}={label_value}"}):
            try:
                container.remove(force=True, v=True)
                names.append(container.name)
            except docker.errors.NotFound:
                pass
        return names
    finally:
        client.close()
