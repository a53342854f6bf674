"""Seeding: fixtures into every service, idempotent (content hashes), with instant reset.

`seed_stack` is what `devstack up` (first start) and `devstack seed` call once
every service is ready. Per service, the kind's seeder (`Kind.seeder`) validates the
manifest's `seed:` value, hashes every fixture (plus e.g. the migration
command), and loads only when that hash changed or the server lost the data;
after a load it keeps a snapshot that `reset=True` restores.
State: <state_dir>/seed/state.json (+ per-kind snapshot files).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from devstack.errors import ManifestError, UserError
from devstack.seed.base import FixtureSpec, SeedError, Seeder, SpecContext, State, digest

__all__ = ["seed_stack", "prepare", "check", "SeedError", "seeding_kinds"]


def seeder_class(kind) -> type[Seeder] | None:
    """The class that loads the kind's fixtures (the kind names its module)."""
    if not kind.seeder:
        return None
    return importlib.import_module(kind.seeder).seeder


def spec_class(kind) -> type[FixtureSpec] | None:
    """What checks the kind's `seed:` on every command: its light spec (no loader
    imports), or the seeder itself when the kind declares none."""
    if kind.seed_spec:
        module, _, name = kind.seed_spec.partition(":")
        return getattr(importlib.import_module(module), name)
    return seeder_class(kind)


def seeding_kinds() -> list[str]:
    from devstack.services import catalog

    return sorted(name for name, kind in catalog.kinds().items() if kind.seeder)


def check(manifest) -> list:
    """Every problem of every service's `seed:` (files, globs, paths, entries), for
    the manifest's one report; `prepare` checks again with the plan before seeding."""
    from devstack.services import catalog

    problems = []
    for spec in manifest.services.values():
        if spec.seed is None:
            continue
        kind = catalog.get(spec.kind)
        ctx = SpecContext(spec.name, manifest.root, manifest.lines, manifest.outside_dirs)
        cls = spec_class(kind)
        if cls is None:
            ctx.problem((), f"kind {kind.name} takes no seed fixtures", f"kinds with fixtures: {', '.join(seeding_kinds())}")
        else:
            cls.parse(ctx, spec.seed, spec)
        problems += ctx.problems
    return problems


def manifest_lines(plan):
    """Line numbers of the manifest (for file:line in seed: errors), or None."""
    from devstack import yamlpos

    try:
        return yamlpos.load(Path(plan.manifest_path).read_text(), str(plan.manifest_path))
    except Exception:  # noqa: BLE001 - lines are a nicety; the plan was built from this file already
        return None


def prepare(plan, names: list[str] | None = None, lines=None):
    """Validate every service's `seed:` -> [(svc, seeder class, fixtures)] for the services to seed.

    Raises ManifestError listing every problem (file:line, key path, hint)."""
    lines = lines if lines is not None else manifest_lines(plan)
    problems = []
    jobs = []
    for svc in plan.services.values():
        ctx = SpecContext(svc.name, Path(plan.root), lines, plan.outside_dirs)
        cls = seeder_class(svc.kind)
        if cls is None:
            if svc.seed is not None:
                ctx.problem((), f"kind {svc.kind.name} takes no seed fixtures", f"kinds with fixtures: {', '.join(seeding_kinds())}")
            problems += ctx.problems
            continue
        fixtures = cls.parse(ctx, svc.seed, svc) if svc.seed is not None else []
        problems += ctx.problems
        if not ctx.problems and cls.wanted(svc, fixtures):
            jobs.append((svc, cls, fixtures))
    if problems:
        raise ManifestError(str(plan.manifest_path), problems)
    if names:
        from devstack.options import suggest

        wanted = {svc.name for svc, _, _ in jobs}
        for name in names:
            if name not in plan.services:
                raise UserError(f"no service `{name}` in {Path(plan.manifest_path).name}", suggest(name, plan.services) or "services: " + ", ".join(plan.services))
            svc = plan.services[name]
            if not svc.runs:
                raise UserError(f"{name} is `mode: {svc.mode}`: devstack seeds only services it runs")
            if name not in wanted:
                raise UserError(f"{name} has nothing to seed", f"add `seed:` to services.{name} (see docs/seeding.md)")
        jobs = [job for job in jobs if job[0].name in names]
    else:
        jobs = [job for job in jobs if job[0].runs]
    return jobs


def seed_stack(plan, progress, services=None, reset=False, first_start_only=False, jobs=None) -> None:
    """Load fixtures into the stack's services.

    services: names to seed (default: every service with fixtures).
    reset: restore the snapshot taken after the last seed (reseed when the
        fixtures changed or there is no snapshot).
    first_start_only: `devstack up`: seed services never seeded (or whose
        server lost the data); a changed fixture is only pointed out.
    jobs: what prepare(plan, services) returned, when the caller has it already.
    """
    if jobs is None:
        jobs = prepare(plan, list(services) if services else None)
    if not jobs:
        if not first_start_only:
            progress("nothing to seed: no service declares `seed:` (see docs/seeding.md)")
        return
    if not first_start_only:  # `up` checked already; a seed must not stop half-way for want of a disk
        from devstack.fsutil import check_writable

        check_writable(plan.state_dir)
    state = State(Path(plan.state_dir) / "seed")
    started = time.monotonic()
    worked = []
    for svc, cls, fixtures in jobs:
        seeder = cls(svc, plan, progress)
        try:
            if _seed_one(seeder, svc, fixtures, state, reset, first_start_only):
                worked.append(svc.name)
        finally:
            seeder.close()
    if worked:
        if len(jobs) > 1 or not first_start_only:
            progress(f"seeded {', '.join(worked)} in {time.monotonic() - started:.2f}s" if not reset else
                     f"reset {', '.join(worked)} in {time.monotonic() - started:.2f}s")
    elif not first_start_only:
        progress("nothing to do: fixtures unchanged since the last seed (`devstack seed --reset` restores the seeded state)")


def _seed_one(seeder, svc, fixtures, state, reset: bool, first_start_only: bool) -> bool:
    """One service's part of seed_stack; True when it loaded or reset something."""
    record = state.get(svc.name)
    if record and record.get("kind") != svc.kind.name:
        record = None
    fingerprint, files = digest(svc.kind.name, fixtures, seeder.extra(), record)
    same = bool(record) and record.get("hash") == fingerprint
    there = bool(record) and seeder.present(record.get("snapshot") or {})
    if first_start_only and there:
        if not same:
            seeder.say(f"fixtures changed since the last seed: `devstack seed {svc.name}` reloads them")
        return False
    if reset and same and there:
        if seeder.reset(record.get("snapshot") or {}):
            return True
        seeder.say(seeder.no_snapshot)
    elif not first_start_only and same and there:
        seeder.say("unchanged")
        return False
    elif record and not there:
        seeder.say("the seeded data is gone from the server: loading the fixtures again")
    elif record and not same:
        seeder.say("fixtures changed: reloading")
    try:
        snapshot = seeder.load(fixtures)
    except SeedError as exc:
        if not exc.intact:
            state.drop(svc.name)
        raise
    except BaseException:
        state.drop(svc.name)
        raise
    if snapshot is None:  # the backend keeps nothing (stripe-mock): nothing to record
        state.drop(svc.name)
        return True
    state.set(svc.name, {"kind": svc.kind.name, "hash": fingerprint, "files": files, "snapshot": snapshot,
                         "seeded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return True
