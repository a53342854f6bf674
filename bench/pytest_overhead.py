"""Per-test cost of devstack_postgres against pytest-postgresql's `postgresql` fixture.

Both on a 20-table seeded schema (a primary key, an index, a foreign key to the
table before and 50 rows each), both on the same PostgreSQL server (devstack's
native one, started once with `devstack up`): only the fixtures' strategies
differ. pytest-postgresql clones its template database for each test and drops
it after (its `postgresql_noproc` + `postgresql` fixtures: its process fixture
refuses to run as root, and would be another server with other settings);
devstack_postgres (--devstack-attach) keeps one database per worker and puts
back what a test changed. Each test inserts a row, as most tests write.

A run of N tests per fixture, interleaved A B A B for --rounds rounds; the
time of each test is its setup + call + teardown as pytest reports them; the
first test of each run (template / clone made) is left out. Prints the median
per-test time of both, the ratio, the target (at most 0.25x) and the verdict;
exits 1 on a miss.

    python bench/pytest_overhead.py [--tests 40] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.25
TABLES = 20
ROWS = 50

TIMING_PLUGIN = '''
import json, os

times = {}

def pytest_runtest_logreport(report):
    times[report.nodeid] = times.get(report.nodeid, 0.0) + report.duration

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_TIMES"], "w") as f:
        json.dump(times, f)
'''

DEVSTACK_TESTS = '''
import pytest

@pytest.mark.parametrize("n", range({tests}))
def test_write(devstack_postgres, n):
    with devstack_postgres.connect() as conn:
        conn.execute("INSERT INTO t{table} (name, ref) VALUES ('bench', 1)")
'''

PGPOOL_CONFTEST = '''
from pathlib import Path

from pytest_postgresql import factories

postgresql_noproc = factories.postgresql_noproc(host={host!r}, port={port}, user={user!r}, password={password!r},
                                                dbname="bench_pp", load=[Path({schema!r})])
postgresql = factories.postgresql("postgresql_noproc")
'''

PGPOOL_TESTS = '''
import pytest

@pytest.mark.parametrize("n", range({tests}))
def test_write(postgresql, n):
    postgresql.execute("INSERT INTO t{table} (name, ref) VALUES ('bench', 1)")
    postgresql.commit()
'''


def schema_sql() -> str:
    lines = []
    for i in range(TABLES):
        ref = f" REFERENCES t{i - 1} (id)" if i else ""
        lines.append(f"CREATE TABLE t{i} (id serial PRIMARY KEY, name text NOT NULL, ref int{ref}, created timestamptz DEFAULT now());")
        lines.append(f"CREATE INDEX ON t{i} (name);")
        lines.append(f"INSERT INTO t{i} (name, ref) SELECT 'row ' || g, {'g' if i else 'NULL'} FROM generate_series(1, {ROWS}) g;")
    return "\n".join(lines) + "\n"


def run_pytest(directory: Path, env: dict, extra: list[str]) -> list[float]:
    times = directory / "times.json"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bench_timing", *extra],
                            cwd=directory, env={**env, "BENCH_TIMES": str(times)}, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"pytest in {directory.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    per_test = json.loads(times.read_text())
    ordered = [per_test[k] for k in sorted(per_test, key=lambda k: int(k.rsplit("[", 1)[1].rstrip("]")))]
    return ordered[1:]  # the first test made the template / the clone


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    try:
        import pytest_postgresql  # noqa: F401
    except ImportError:
        print("pytest-postgresql is not installed (pip install -e '.[test]'): no baseline to compare with")
        return 2
    work = Path(tempfile.mkdtemp(prefix="devstack-bench-pytest-"))
    os.chmod(work, 0o755)
    env = {**os.environ, "DEVSTACK_HOME": str(work / "home"), "PYTHONPATH": os.pathsep.join([str(ROOT), str(work)])}
    project = work / "project"
    (project / "seed").mkdir(parents=True)
    (project / "seed" / "schema.sql").write_text(schema_sql())
    (project / "devstack.yaml").write_text("project: bench\nruntime: native\nservices:\n"
                                           "  db: {kind: postgres, database: bench, seed: [seed/schema.sql]}\n")
    (work / "bench_timing.py").write_text(TIMING_PLUGIN)
    devstack = [sys.executable, "-m", "devstack", "-f", str(project / "devstack.yaml")]
    up = subprocess.run([*devstack, "up"], env=env, capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        print(up.stderr)
        return 2
    try:
        db = json.loads(subprocess.run([*devstack, "env", "--format", "json"], env=env, capture_output=True, text=True, check=True).stdout)
        (project / "tests").mkdir()
        (project / "tests" / "test_devstack.py").write_text(DEVSTACK_TESTS.format(tests=args.tests + 1, table=TABLES - 1))
        baseline = work / "pytest_postgresql"
        baseline.mkdir()
        (baseline / "conftest.py").write_text(PGPOOL_CONFTEST.format(
            host=db["PGHOST"], port=int(db["PGPORT"]), user=db["PGUSER"], password=db["PGPASSWORD"], schema=str(project / "seed" / "schema.sql")))
        (baseline / "test_pgpool.py").write_text(PGPOOL_TESTS.format(tests=args.tests + 1, table=TABLES - 1))
        samples: dict[str, list[float]] = {"devstack_postgres": [], "pytest-postgresql postgresql": []}
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}/{args.rounds}", flush=True)
            samples["devstack_postgres"] += run_pytest(project, env, ["--devstack-attach", "tests"])
            samples["pytest-postgresql postgresql"] += run_pytest(baseline, env, [])
    finally:
        subprocess.run([*devstack, "down", "--volumes"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio = medians["devstack_postgres"] / medians["pytest-postgresql postgresql"]
    print(f"per-test time on a {TABLES}-table seeded schema ({args.tests} tests x {args.rounds} rounds each, interleaved; medians)")
    for name, seconds in medians.items():
        print(f"  {name:<30} {seconds * 1000:8.2f} ms")
    print(f"  ratio {ratio:.3f}x (target: at most {TARGET}x)  ->  {'PASS' if ratio <= TARGET else 'MISS'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
