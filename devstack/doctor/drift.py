"""Drift: the app's .env against what the running stack serves, variables the
app's .env sets that the manifest does not, and fixtures changed since the last seed."""

from __future__ import annotations

import dataclasses
import re
import stat
from pathlib import Path

from devstack.doctor.findings import fail, ok, warn

SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)


def checks(ctx):
    yield from env_file(ctx)
    yield from fixtures(ctx)


# -- the app's .env --------------------------------------------------------------------


def env_file(ctx):
    plan = ctx.plan
    path = plan.env_file
    shown = _relative(path, plan.root)
    if not path.exists():
        yield warn("drift", shown, f"{shown} is not written yet", "`devstack up` (or `devstack render`) writes it")
        return
    from dotenv import dotenv_values

    try:
        app = {k: v or "" for k, v in dotenv_values(path, interpolate=False).items()}
    except (OSError, UnicodeDecodeError) as exc:
        yield fail("drift", shown, f"cannot read {shown}: {exc}", f"`devstack render` rewrites {shown}")
        return
    served = served_env(ctx)
    keys = list(served) if ctx.whole else scoped_keys(ctx)
    secrets = secret_values(plan)
    differ = [k for k in keys if k in app and app[k] != served[k]]
    absent = [k for k in keys if k not in app]
    running = bool(ctx.running)
    if differ or absent:
        parts = [_difference(k, app[k], served[k], secrets) for k in differ]
        parts += [f"{k} (missing)" for k in absent]
        what = "what the running stack serves" if running else "the manifest (the stack is not running)"
        make = fail if running else warn
        yield make("drift", shown, f"{shown} differs from {what}: " + "; ".join(parts),
                   f"`devstack render` rewrites {shown} from the manifest (then restart the app so it reads it)")
    elif keys:
        count = f"{len(keys)} variable matches" if len(keys) == 1 else f"{len(keys)} variables match"
        yield ok("drift", shown, f"{count} what the stack serves" if running else f"{count} the manifest")
    if ctx.whole:
        extra = [k for k in app if k not in served]
        if extra:
            example = "\n".join(f"  {k}: {_quote(k, app[k])}" for k in extra)
            yield warn("drift", shown, f"{shown} sets {', '.join(extra)}, which the manifest's env does not: the next `devstack up` or "
                       f"`devstack render` drops {'it' if len(extra) == 1 else 'them'}",
                       f"add under `env:` in {plan.manifest_path.name}:\n{example}")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            yield warn("drift", shown, f"{shown} is readable by other users (mode {mode:o}): it holds passwords", f"`chmod 600 {path}`")
        yield from _gitignore(plan, path)


def served_env(ctx) -> dict[str, str]:
    """The env as the running stack serves it: natively, services keep the ports
    they were started with even if the plan moved since."""
    plan = ctx.plan
    if ctx.rt.name != "native" or plan.manifest is None:
        return dict(plan.env)
    from devstack.plan import build_env, service_outputs
    from devstack.runtime.process import PidFile

    changed = {}
    for svc in plan.running():
        rec = PidFile.read(svc.state_dir / "pid")
        started = {k: int(v) for k, v in (rec.ports if rec else {}).items() if k in svc.ports}
        if started and started != {k: svc.ports[k] for k in started} and rec.leader_alive():
            changed[svc.name] = dataclasses.replace(svc, ports={**svc.ports, **started})
    if not changed:
        return dict(plan.env)
    variant = dataclasses.replace(plan, services={**plan.services, **changed})
    for svc in changed.values():
        svc.outputs = service_outputs(svc, variant)
    return build_env(plan.manifest, variant)


def scoped_keys(ctx) -> list[str]:
    """Variables that come from the services in scope: their kinds' default names,
    and `env:` entries whose expression names one of them."""
    from devstack.plan import is_primary

    plan, keys = ctx.plan, []
    manifest = plan.manifest
    if manifest is not None and manifest.env_defaults:
        for svc in ctx.services:
            if svc.mode != "off":
                prefix = "" if is_primary(svc, plan) else svc.name.upper() + "_"
                keys += [prefix + var for var in svc.kind.default_env if prefix + var in plan.env]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, ctx.names)) + r")\.")
    for var, expr in (manifest.env.items() if manifest is not None else ()):
        if var in plan.env and pattern.search(str(expr)):
            keys.append(var)
    return list(dict.fromkeys(keys))


def secret_values(plan) -> list[str]:
    found = []
    for svc in plan.services.values():
        found += [str(svc.outputs.get(name)) for name in svc.kind.secret_outputs if svc.outputs.get(name)]
    for value in plan.secrets.values():
        found += [str(v) for v in (value.values() if isinstance(value, dict) else [value]) if v]
    return sorted({v for v in found if len(v) >= 4}, key=len, reverse=True)


def _difference(key: str, have: str, served: str, secrets: list[str]) -> str:
    shown, wanted = _show(key, have, secrets), _show(key, served, secrets)
    if shown == wanted:
        return f"{key} (differs in a password or secret: not shown)"
    return f"{key} (.env {shown}, served {wanted})"


def _show(key: str, value: str, secrets: list[str]) -> str:
    from devstack.urls import mask_password

    if SECRET_NAME.search(key) and not value.isdigit():
        return "***" if value else "(empty)"
    for secret in secrets:
        value = value.replace(secret, "***")
    value = mask_password(value)
    return value if len(value) <= 60 else value[:57] + "..."


def _quote(key: str, value: str) -> str:
    if SECRET_NAME.search(key):
        return '"..."  # its value (not shown here)'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _gitignore(plan, env_path: Path):
    if not (plan.root / ".git").exists():
        return
    gitignore = plan.root / ".gitignore"
    ignored = gitignore.read_text().split() if gitignore.exists() else []
    for entry in (".devstack/", _relative(env_path, plan.root)):
        if entry not in ignored and entry.rstrip("/") not in ignored and "/" + entry not in ignored:
            yield warn("drift", "git", f"{entry} is not in .gitignore: it holds generated secrets", f"`echo '{entry}' >> .gitignore`")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


# -- fixtures ----------------------------------------------------------------------------


def fixtures(ctx):
    from devstack import seed
    from devstack.errors import ManifestError
    from devstack.seed.base import State, digest

    plan = ctx.plan
    try:
        jobs = seed.prepare(plan)
    except ManifestError as exc:
        for p in exc.problems:
            yield fail("fixtures", exc.filename, dataclasses.replace(p, hint=None).render(exc.filename), p.hint or "fix the `seed:` entry")
        return
    state = State(Path(plan.state_dir) / "seed")  # only reads state.json
    running = ctx.running
    for svc, cls, entries in jobs:
        if svc.name not in ctx.names:
            continue
        record = state.get(svc.name)
        if not record or record.get("kind") != svc.kind.name:
            if svc.name in running:
                yield warn("fixtures", svc.name, "running but never seeded", f"`devstack seed {svc.name}` loads its fixtures")
            continue
        seeder = cls(svc, plan, lambda message: None)
        fingerprint, files = digest(svc.kind.name, entries, seeder.extra(), record)  # reads the fixtures, writes nothing
        if fingerprint == record.get("hash"):
            yield ok("fixtures", svc.name, f"{len(files)} fixture file{'' if len(files) == 1 else 's'} unchanged since the last seed ({record.get('seeded_at', '?')})")
            continue
        before = record.get("files") or {}
        changed = [rel for rel, entry in files.items() if rel not in before or before[rel][2] != entry[2]]
        changed += [f"{rel} (removed)" for rel in before if rel not in files]
        what = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "") if changed else "its seed options"
        yield warn("fixtures", svc.name, f"fixtures changed since the last seed ({record.get('seeded_at', '?')}): {what}",
                   f"`devstack seed {svc.name}` loads them")
