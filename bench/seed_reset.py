"""`devstack seed --reset` vs a full reseed, on a 1,000,000-row Postgres fixture.

Full reseed = what `devstack seed` does when a fixture changed: the database is
rebuilt (schema.sql, COPY of users.csv) and its `<db>_seeded` template re-made.
Reset = seed_stack(reset=True): drop the database, clone it from the template.
Before each run (untimed) the "app" writes junk: inserts, updates, a new table.
Runs interleaved A B A B; prints the medians and the speed-up (target >= 10x),
and checks that the reset gave back exactly the seeded rows.

    python bench/seed_reset.py [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse

from _seedbench import workdir, SCHEMA, interleave, median, plan_for, seed_servers as S, timed, users_csv, write_manifest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    pg = S.start_postgres(fast=False)
    try:
        work = workdir("devstack-bench-reset-")
        (work / "seed").mkdir()
        (work / "seed" / "00_schema.sql").write_text(SCHEMA)
        users_csv(work / "seed" / "users.csv", args.rows)
        write_manifest(work, {"db": {"kind": "postgres", "port": pg.port, "user": S.PG_USER, "password": S.PG_PASSWORD,
                                     "database": "bench", "seed": ["seed/"]}})
        plan = plan_for(work)
        from devstack.seed import prepare, seed_stack
        from devstack.seed.postgres import PostgresSeeder

        messages: list[str] = []
        print(f"{args.rows:,} rows; first seed ...", flush=True)
        print(f"  first seed: {timed(lambda: seed_stack(plan, messages.append)):.3f}s")
        [(svc, _cls, fixtures)] = prepare(plan)
        seeder = PostgresSeeder(svc, plan, messages.append)
        import psycopg

        def connect():
            return psycopg.connect(host="127.0.0.1", port=pg.port, user=S.PG_USER, password=S.PG_PASSWORD, dbname="bench", autocommit=True)

        def fingerprint():
            with connect() as conn:
                return conn.execute("SELECT count(*), sum(hashtext(u::text)) FROM users u").fetchone(), \
                    conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]

        seeded = fingerprint()

        def junk():
            with connect() as conn:
                conn.execute("INSERT INTO users (email, name, created_at) SELECT 'junk' || g || '@x', 'Junk', now() FROM generate_series(1, 10000) g")
                conn.execute("UPDATE users SET name = 'changed' WHERE id % 1000 = 0")
                conn.execute("CREATE TABLE IF NOT EXISTS junk AS SELECT 1 AS x")
                conn.execute("CHECKPOINT")

        from devstack.seed.base import State

        def reseed():
            seconds = timed(lambda: remember(seeder.load(fixtures)))
            return seconds

        def remember(snapshot):  # as seed_stack does after a load (the reset below reads it)
            state = State(plan.state_dir / "seed")
            record = state.get("db")
            state.set("db", {**record, "snapshot": snapshot})

        def reset():
            return timed(lambda: seed_stack(plan, messages.append, reset=True))

        print("A = full reseed, B = seed --reset (template clone)")
        ta, tb = interleave(args.runs, reseed, reset, before=junk)
        assert any("reset to the seeded state" in m for m in messages), messages[-3:]
        assert fingerprint() == seeded, "reset did not give back exactly the seeded state"
        ma, mb = median(ta), median(tb)
        print(f"median full reseed: {ma:.3f}s")
        print(f"median reset:       {mb:.3f}s")
        print(f"reset is {ma / mb:.1f}x faster than a full reseed  (target >= 10x); state after reset == seeded state: yes")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
