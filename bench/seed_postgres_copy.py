"""1,000,000-row CSV into Postgres: devstack's COPY loader vs `psql -c "\\copy ..."`.

Same server, same file, same empty table (TRUNCATE before each run, untimed),
runs interleaved A B A B; prints the medians and devstack's throughput as a
fraction of psql's (target >= 0.8x).

    python bench/seed_postgres_copy.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess

from _seedbench import workdir, interleave, median, plan_for, seed_servers as S, timed, users_csv, write_manifest, SCHEMA


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    pg = S.start_postgres(fast=False)  # default durability: commits are fsynced for both sides
    try:
        work = workdir("devstack-bench-copy-")
        csv_path = work / "users.csv"
        users_csv(csv_path, args.rows)
        print(f"{args.rows:,} rows, {csv_path.stat().st_size / 1e6:.1f} MB CSV; postgres on port {pg.port}")
        write_manifest(work, {"db": {"kind": "postgres", "port": pg.port, "user": S.PG_USER, "password": S.PG_PASSWORD, "database": "bench"}})
        plan = plan_for(work)
        from devstack.seed.base import Fixture
        from devstack.seed.postgres import PostgresSeeder

        seeder = PostgresSeeder(plan.services["db"], plan, lambda m: None)
        import psycopg

        admin = psycopg.connect(host="127.0.0.1", port=pg.port, user=S.PG_USER, password=S.PG_PASSWORD, dbname="postgres", autocommit=True)
        admin.execute("CREATE DATABASE bench")
        db = psycopg.connect(host="127.0.0.1", port=pg.port, user=S.PG_USER, password=S.PG_PASSWORD, dbname="bench", autocommit=True)
        db.execute(SCHEMA)
        fixture = Fixture(csv_path, "users.csv")
        env = {**os.environ, "PGPASSWORD": S.PG_PASSWORD}
        copy = f"\\copy users (id, email, name, score, created_at) from '{csv_path}' with (format csv, header true)"

        def psql():
            return timed(lambda: subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", S.PG_USER, "-d", "bench", "-c", copy],
                                                env=env, check=True))

        def devstack():
            return timed(lambda: seeder.load_fixtures("bench", [fixture]))

        def truncate():
            db.execute("TRUNCATE users")
            db.execute("CHECKPOINT")

        print("A = psql \\copy, B = devstack (psycopg COPY, 1 MiB chunks, one transaction)")
        ta, tb = interleave(args.runs, psql, devstack, before=truncate)
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == args.rows
        ma, mb = median(ta), median(tb)
        print(f"median psql \\copy: {ma:.3f}s ({args.rows / ma:,.0f} rows/s)")
        print(f"median devstack:   {mb:.3f}s ({args.rows / mb:,.0f} rows/s)")
        print(f"ratio (devstack throughput / psql throughput): {ma / mb:.2f}x  (target >= 0.8x)")
        db.close()
        admin.close()
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
