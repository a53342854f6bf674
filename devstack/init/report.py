"""What init decided, for people (a table) and for scripts (--json)."""

from __future__ import annotations

from devstack.init.model import CONFIG, OFF, SECRET, SERVICE, SKIPPED, Result

SHOWN = {SERVICE: None, SECRET: "secret", CONFIG: "app config", OFF: "off", SKIPPED: "left out"}


def table(result: Result) -> str:
    lines = []
    if result.services:
        lines.append("services:")
        width = max(len(s.name) for s in result.services)
        for svc in result.services:
            lines.append(f"  {svc.name:<{width}}  {svc.kind:<9} {svc.mode:<5} {svc.comment}")
    else:
        lines.append("services: none recognized (the manifest gets a placeholder that runs nothing)")
    if result.decisions:
        rows = [(d.var.name + (" (#)" if d.var.commented else ""), _label(d), d.reason) for d in result.decisions]
        w1 = min(max(len(r[0]) for r in rows), 40)
        w2 = min(max(len(r[1]) for r in rows), 28)
        lines += ["", f"{'variable':<{w1}}  {'->':<{w2}}  why"]
        lines += [f"{a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in rows]
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _label(decision) -> str:
    if decision.category == SERVICE:
        where = f"{decision.service}.{decision.output}" if decision.output else f"{decision.service} (value)"
        return f"{decision.kind}: {where}" if decision.kind != decision.service else where
    return SHOWN[decision.category]


def as_data(result: Result, manifest: str, written: bool) -> dict:
    return {
        "manifest": manifest,
        "written": written,
        "project": result.project,
        "inputs": result.inputs.files,
        "services": [{"name": s.name, "kind": s.kind, "mode": s.mode, "options": s.options, "why": s.comment} for s in result.services],
        "secrets": [{"name": s.name, "spec": s.spec, "why": s.comment} for s in result.secrets],
        "variables": [{
            "name": d.var.name, "source": d.var.source, "line": d.var.line, "commented": d.var.commented,
            "decision": d.label, "category": d.category, "kind": d.kind, "output": d.output, "service": d.service,
            "value": d.value, "written": d.written, "why": d.reason,
        } for d in result.decisions],
        "notes": result.notes,
        "env_file": result.env_file,
    }
