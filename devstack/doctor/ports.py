"""Every port the stack needs: free, or held by this stack; else who holds it."""

from __future__ import annotations

import errno

from devstack.doctor.context import parallel
from devstack.doctor.findings import fail, ok, warn
from devstack.ports import bind_error


def checks(ctx):
    if ctx.rt.public_host() != "127.0.0.1":
        yield ok("ports", "ports", f"published on the engine's host {ctx.rt.public_host()}: not checked from here")
        return
    running = ctx.running
    wanted = [(svc, name, port) for svc in ctx.runs() for name, port in svc.ports.items()]
    free = []
    for svc, name, port, problem in parallel(lambda item: (*item, _problem(*item)), wanted):
        if svc.name in running:
            continue  # its own process / container holds it (the stack check says whether it answers)
        if problem is None:
            free.append(f"{port}" if svc.kind.ports[name].count == 1 else f"{port}-{port + svc.kind.ports[name].count - 1}")
            continue
        yield problem(ctx)
    held = sorted(s.name for s in ctx.runs() if s.name in running)
    if held:
        yield ok("ports", "ports", f"held by this stack: {', '.join(held)}")
    if free:
        yield ok("ports", "ports", f"free: {', '.join(free)}")


def _problem(svc, name: str, port: int):
    """None if every port of the option is free, else a function making the finding
    (who holds it is asked only for ports really taken)."""
    spec = svc.kind.ports[name]
    for p in range(port, port + spec.count):
        error = bind_error(p, spec.protocol, "127.0.0.1")
        if error is None:
            continue
        return lambda ctx, p=p, error=error: _taken(ctx, svc, name, p, error)
    return None


def _taken(ctx, svc, name: str, port: int, error: OSError):
    key = f"services.{svc.name}.{name}"
    if error.errno != errno.EADDRINUSE:
        return fail("ports", svc.name, f"cannot bind 127.0.0.1:{port} ({name}): {error.strerror or error}",
                    "the loopback interface must be up: `ip link set lo up` (and 127.0.0.1 assigned to it)")
    holder = ctx.rt.port_holder(port, error.protocol)
    pid = holder.split()[1] if holder.startswith("PID ") else ""
    stop = f"stop it (`kill {pid}`)" if pid else "stop it"
    if svc.options.get(name):  # the manifest sets it: never moved
        return fail("ports", svc.name, f"port {port} ({key}, {error.protocol}) is held by {holder}",
                    f"{stop}, or set {key} to a free port in the manifest (or remove it: devstack picks one)")
    return warn("ports", svc.name, f"port {port} ({name}, kept for {svc.name}) is held by {holder}",
                f"`devstack up` moves {svc.name} to a free port and rewrites .env; to keep {port}, {stop} first")
