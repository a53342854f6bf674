"""`devstack seed --reset` on a 1,000,000-row Postgres fixture, against a full
reseed and against `cp -a` of the seeded database's files (the floor).

The server runs with the native runtime's settings (DEV_DURABILITY: fsync=off).
  full reseed = what `devstack seed` does when a fixture changed: a database built
                beside the app's one (schema.sql, COPY of users.csv), its `<db>_seeded`
                template re-made, both swapped in.
  reset       = seed_stack(reset=True): the template cloned beside the app's
                database (CREATE DATABASE ... STRATEGY FILE_COPY), swapped in; the
                database put aside is dropped without the user waiting.
  cp -a       = `cp -a base/<oid of the template>` to a scratch dir on the same
                filesystem: the same bytes and files, with nothing else to do.
Before each run (untimed) the "app" writes junk (inserts, updates, a new table),
any drop still running is waited for, and the last cp -a copy is removed.
Runs interleaved A B C A B C; prints the medians, the targets (reset >= 20x
faster than a full reseed, reset <= 1.5x cp -a), the verdict; exit 1 on a miss.
Checks that the reset gave back exactly the seeded rows.

    python bench/seed_reset.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

from _common import Verdict
from _seedbench import SCHEMA, median, plan_for, seed_servers as S, timed, users_csv, workdir, write_manifest

SPEEDUP, FLOOR_RATIO = 20.0, 1.5


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from devstack.services.postgres import DEV_DURABILITY

    verdict = Verdict("seed --reset")
    pg = S.start_postgres(fast=False, settings=DEV_DURABILITY)
    try:
        work = workdir("devstack-bench-reset-")
        (work / "seed").mkdir()
        (work / "seed" / "00_schema.sql").write_text(SCHEMA)
        users_csv(work / "seed" / "users.csv", args.rows)
        write_manifest(work, {"db": {"kind": "postgres", "port": pg.port, "user": S.PG_USER, "password": S.PG_PASSWORD,
                                     "database": "bench", "seed": ["seed/"]}})
        plan = plan_for(work)
        from devstack.seed import prepare, seed_stack
        from devstack.seed.base import State
        from devstack.seed.postgres import DROPPER_NAME, PostgresSeeder

        messages: list[str] = []
        print(f"{args.rows:,} rows; server settings {' '.join(DEV_DURABILITY)}; first seed ...", flush=True)
        print(f"  first seed: {timed(lambda: seed_stack(plan, messages.append)):.3f}s")
        [(svc, _cls, fixtures)] = prepare(plan)
        seeder = PostgresSeeder(svc, plan, messages.append)
        import psycopg

        def connect(db="bench"):
            return psycopg.connect(host="127.0.0.1", port=pg.port, user=S.PG_USER, password=S.PG_PASSWORD, dbname=db, autocommit=True)

        def fingerprint():
            with connect() as conn:
                return conn.execute("SELECT count(*), sum(hashtext(u::text)) FROM users u").fetchone(), \
                    conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]

        seeded = fingerprint()
        with connect("postgres") as conn:
            size = conn.execute("SELECT pg_database_size('bench_seeded')").fetchone()[0]
        copy_to = pg.workdir / "data" / "cp-a-copy"

        def template_dir():
            with connect("postgres") as conn:
                oid = conn.execute("SELECT oid FROM pg_database WHERE datname = 'bench_seeded'").fetchone()[0]
            return pg.workdir / "data" / "base" / str(oid)

        def before():
            with connect() as conn:
                conn.execute("INSERT INTO users (email, name, created_at) SELECT 'junk' || g || '@x', 'Junk', now() FROM generate_series(1, 10000) g")
                conn.execute("UPDATE users SET name = 'changed' WHERE id % 1000 = 0")
                conn.execute("CREATE TABLE IF NOT EXISTS junk AS SELECT 1 AS x")
                conn.execute("CHECKPOINT")
                while conn.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (DROPPER_NAME,)).fetchone():
                    time.sleep(0.01)  # the last reset's drop, still running: not the next run's cost
            shutil.rmtree(copy_to, ignore_errors=True)

        def remember(snapshot):  # as seed_stack does after a load (the reset below reads it)
            state = State(plan.state_dir / "seed")
            state.set("db", {**state.get("db"), "snapshot": snapshot})

        candidates = {
            "full reseed": lambda: timed(lambda: remember(seeder.load(fixtures))),
            "seed --reset": lambda: timed(lambda: seed_stack(plan, messages.append, reset=True)),
            "cp -a (floor)": lambda: timed(lambda: subprocess.run(["cp", "-a", str(template_dir()), str(copy_to)], check=True)),
        }
        print(f"seeded database {size / 1e6:.0f} MB; runs interleaved: {', '.join(candidates)}")
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        for i in range(args.runs):
            for name, run in candidates.items():
                before()
                samples[name].append(run())
                print(f"  run {i + 1} {name}: {samples[name][-1]:.3f}s", flush=True)
        before()
        assert any("reset to the seeded state" in m for m in messages), messages[-3:]
        seed_stack(plan, messages.append, reset=True)
        assert fingerprint() == seeded, "reset did not give back exactly the seeded state"
        m = {name: median(values) for name, values in samples.items()}
        for name, seconds in m.items():
            print(f"median {name:<14} {seconds:.3f}s")
        speedup, floor = m["full reseed"] / m["seed --reset"], m["seed --reset"] / m["cp -a (floor)"]
        verdict.check("reset vs full reseed", f"{speedup:.1f}x faster", f">= {SPEEDUP:.0f}x", speedup >= SPEEDUP)
        verdict.check("reset vs cp -a", f"x{floor:.2f}", f"<= x{FLOOR_RATIO}", floor <= FLOOR_RATIO)
        print("state after reset == seeded state: yes")
    finally:
        shutil.rmtree(pg.workdir / "data" / "cp-a-copy", ignore_errors=True)
        pg.stop()
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main())
