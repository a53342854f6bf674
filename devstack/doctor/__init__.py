"""`devstack doctor`: every problem with this machine, this stack and the app's
`.env`, each with the exact fix. Writes nothing, anywhere.

Checks are small functions grouped by area, one module each (runtime,
ports, stack, drift, tools, hostcheck); each yields Findings. Per-kind
knowledge (which programs, their versions, what the host must get right) is
declared by the kinds (Kind.wanted, Kind.host_needs); doctor asks.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devstack.doctor.findings import Finding, fail, ok

# Output order: the areas as a user would go through them.
AREAS = ("manifest", "runtime", "binary", "images", "ports", "stack", "leftovers", "state", "drift", "fixtures", "tools",
         "clock", "dns", "loopback")


def run(project, services: tuple[str, ...] | list[str] = ()) -> list[Finding]:
    """Every finding for the project (limited to `services` when given), in AREAS order."""
    from devstack.errors import ManifestError, UserError

    findings: list[Finding] = []
    try:
        manifest = project.manifest
    except ManifestError as exc:
        return _manifest_problems(exc)
    except UserError as exc:
        return [fail("manifest", "devstack.yaml", exc.message, exc.hint or "")]
    try:
        rt = project.select_runtime()
    except UserError as exc:
        return [fail("runtime", project.requested_runtime(), exc.message, exc.hint or "")]
    try:
        plan = project.plan(host=rt.public_host(), persist=False)  # doctor writes nothing
    except ManifestError as exc:
        return _manifest_problems(exc)
    except UserError as exc:
        return [fail("runtime", rt.name, exc.message, exc.hint or "")]
    names = _scope(plan, services)
    counts = ", ".join(f"{sum(s.mode == m for s in plan.services.values())} {m}" for m in ("run", "stub", "off", "external")
                       if any(s.mode == m for s in plan.services.values()))
    findings.append(ok("manifest", manifest.path.name, f"valid: {len(plan.services)} service{'' if len(plan.services) == 1 else 's'} ({counts or 'none'})"))

    from devstack.doctor import drift, hostcheck, ports, runtime, stack, tools
    from devstack.doctor.context import Context

    ctx = Context(project, plan, rt, names)
    groups = [runtime.checks, ports.checks, stack.checks, drift.checks, tools.checks, hostcheck.checks]
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        results = list(pool.map(lambda group: _findings(group, ctx), groups))
    for result in results:
        findings += result
    order = {area: i for i, area in enumerate(AREAS)}
    return sorted(findings, key=lambda f: order.get(f.check, len(order)))


def _findings(group, ctx) -> list[Finding]:
    """One area's findings; a user-facing error inside it becomes its failure, not a traceback."""
    from devstack.errors import UserError

    found: list[Finding] = []
    try:
        for finding in group(ctx):
            found.append(finding)
    except UserError as exc:
        area = group.__module__.rsplit(".", 1)[-1]
        found.append(fail({"hostcheck": "clock"}.get(area, area), ctx.plan.project, exc.message, exc.hint or ""))
    return found


def _manifest_problems(exc) -> list[Finding]:
    """The same lines every other command prints for a broken manifest, one finding each."""
    import dataclasses

    subject = Path(exc.filename).name
    return [fail("manifest", subject, dataclasses.replace(p, hint=None).render(exc.filename),
                 p.hint or f"edit {exc.filename}" + (f":{p.line}" if p.line else "")) for p in exc.problems] or [
        fail("manifest", subject, exc.message, exc.hint or "")]


def _scope(plan, services) -> list[str] | None:
    from devstack.errors import UserError
    from devstack.options import suggest

    for name in services:
        if name not in plan.services:
            raise UserError(f"no service `{name}` in {plan.manifest_path.name}",
                            suggest(name, plan.services) or "services: " + ", ".join(plan.services))
    return list(dict.fromkeys(services)) or None


__all__ = ["Finding", "run", "AREAS"]
