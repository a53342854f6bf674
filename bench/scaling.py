"""How cost grows with the stack: `up` of 1, 4, 8 and 16 services, and Postgres
seeds of 10k, 100k and 1M rows.

up:   native stacks of 1 (postgres), 4 (postgres, redis, stripe, mailpit stub),
      8 and 16 services (that mix twice and four times: several instances of
      each kind). Each `devstack up --no-seed` is timed cold (after `down
      --volumes`: fresh data dirs) and warm (after `down`: data kept); the
      steps run interleaved, round by round, medians reported. Target: from 4
      to 16 services `up` grows by at most 40 % (they start in parallel).
seed: a users table of 10k, 100k and 1M rows (schema.sql + users.csv) seeded
      afresh (`seed_stack` on a changed fixture: a database built beside the
      app's one, its template, the swap) on a server with the native runtime's
      settings; the sizes interleaved, medians. Printed: seconds per step and
      µs per row, both of the whole seed and of its row-dependent part (the
      seed minus the same seed of 0 rows, measured in the same rounds).
      Target: that per-row time at 1M is within 20 % of the one at 100k
      (linear in rows: no per-row cost that grows with the table).

    python bench/scaling.py [--rounds 3] [--only up|seed]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from _common import Verdict
from _native import Project, pin_ports

MIX = [("db", {"kind": "postgres"}), ("cache", {"kind": "redis"}), ("stripe", {"kind": "stripe"}),
       ("mail", {"kind": "mailpit", "mode": "stub"})]
SIZES = (1, 4, 8, 16)
ROWS = (10_000, 100_000, 1_000_000)
UP_GROWTH, ROW_SPREAD = 1.40, 1.20


def stack_manifest(size: int) -> dict:
    chosen = MIX[:1] if size == 1 else [(f"{name}{i + 1}", body) for i in range(size // len(MIX)) for name, body in MIX]
    services = pin_ports({name: dict(body) for name, body in chosen})
    return {"project": f"scale{size}", "runtime": "native", "services": services}


def bench_up(rounds: int, verdict: Verdict, base: Path) -> None:
    env = {**os.environ, "DEVSTACK_HOME": str(base / "home"), "DEVSTACK_RUNTIME": "native"}
    projects = {}
    for size in SIZES:
        root = base / f"scale{size}"
        root.mkdir()
        (root / "devstack.yaml").write_text(yaml.safe_dump(stack_manifest(size), sort_keys=False))
        projects[size] = Project(root, env)
    samples = {(size, cond): [] for size in SIZES for cond in ("cold", "warm")}
    try:
        for project in projects.values():  # warms caches (binaries, the cached initdb cluster)
            project.timed_up()
            project.down(volumes=True)
        for i in range(rounds):
            for cond in ("cold", "warm"):
                for size, project in projects.items():
                    project.down(volumes=cond == "cold")  # warm: the data of the cold round before is kept
                    samples[(size, cond)].append(project.timed_up())
                    project.down()  # one stack at a time
                    print(f"  round {i + 1} {cond} {size:>2} services: {samples[(size, cond)][-1]:.2f}s", flush=True)
    finally:
        for project in projects.values():
            project.down(volumes=True)
    print("\n`devstack up --no-seed`, native (medians):")
    print("  services   cold      warm")
    medians = {key: statistics.median(values) for key, values in samples.items()}
    for size in SIZES:
        print(f"  {size:>8}   {medians[(size, 'cold')]:.2f} s   {medians[(size, 'warm')]:.2f} s")
    for cond in ("cold", "warm"):
        growth = medians[(16, cond)] / medians[(4, cond)]
        verdict.check(f"up {cond}: 16 vs 4 services", f"x{growth:.2f}", f"<= x{UP_GROWTH}", growth <= UP_GROWTH)


def bench_seed(rounds: int, verdict: Verdict) -> None:
    from _seedbench import SCHEMA, plan_for, seed_servers as S, timed, users_csv, workdir, write_manifest

    from devstack.services.postgres import DEV_DURABILITY

    pg = S.start_postgres(fast=False, settings=DEV_DURABILITY)
    try:
        from devstack.seed import seed_stack

        plans = {}
        for rows in (0, *ROWS):
            work = workdir(f"devstack-bench-scale-{rows}-")
            (work / "seed").mkdir()
            (work / "seed" / "00_schema.sql").write_text(SCHEMA)
            users_csv(work / "seed" / "users.csv", rows)
            write_manifest(work, {"db": {"kind": "postgres", "port": pg.port, "user": S.PG_USER, "password": S.PG_PASSWORD,
                                         "database": f"rows{rows}", "seed": ["seed/"]}})
            plans[rows] = (work, plan_for(work))

        def seed_afresh(rows: int) -> float:
            work, plan = plans[rows]
            (work / "seed" / "00_schema.sql").write_text(SCHEMA + f"-- {os.urandom(4).hex()}\n")  # a changed fixture: reseed
            return timed(lambda: seed_stack(plan, lambda message: None))

        for rows in plans:
            seed_afresh(rows)  # warm-up: each database and template exist, as on a second seed
        samples = {rows: [] for rows in plans}
        for i in range(rounds):
            for rows in plans:
                samples[rows].append(seed_afresh(rows))
                print(f"  round {i + 1} {rows:>9,} rows: {samples[rows][-1]:.3f}s", flush=True)
    finally:
        pg.stop()
    medians = {rows: statistics.median(values) for rows, values in samples.items()}
    fixed = medians[0]
    print(f"\nPostgres seed of a users table (medians; a seed of 0 rows costs {fixed * 1000:.0f} ms):")
    print("      rows    seed     µs/row (whole)   µs/row (row-dependent part)")
    per_row = {}
    for rows in ROWS:
        per_row[rows] = (medians[rows] - fixed) / rows * 1e6
        print(f"  {rows:>9,}  {medians[rows]:6.3f} s  {medians[rows] / rows * 1e6:8.2f}         {per_row[rows]:8.2f}")
    spread = per_row[1_000_000] / per_row[100_000]
    verdict.check("seed µs/row, 1M vs 100k", f"x{spread:.2f}", f"within {ROW_SPREAD - 1:.0%}",
                  1 / ROW_SPREAD <= spread <= ROW_SPREAD)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("up", "seed"))
    args = parser.parse_args()
    verdict = Verdict("scaling")
    with tempfile.TemporaryDirectory(prefix="devstack-bench-scale-") as tmp:
        if args.only in (None, "up"):
            bench_up(args.rounds, verdict, Path(tmp))
        if args.only in (None, "seed"):
            bench_seed(args.rounds, verdict)
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main())
