"""The pytest plugin, as an app's test suite uses it: fixtures/example-app's tests, run by pytester.

Each run brings up a real session stack (native here; tests/docker/ has the
Docker runtime), and each check ends by looking for anything of that session
left: processes, its state dir, its ports in the registry.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "example-app"
EXAMPLE_TESTS = 21  # tests in fixtures/example-app/tests

# Beside the example's tests (xdist check): every test records which stack and which database it saw.
WHICH_STACK = '''
import json, os
import pytest

@pytest.fixture(autouse=True)
def _record_stack(devstack, devstack_postgres, devstack_redis):
    record = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "project": devstack.project,
              "port": devstack.services["db"].ports["port"], "database": devstack_postgres.name, "redis_db": devstack_redis.db}
    with open(os.environ["WHICH_STACK_FILE"], "a") as f:
        f.write(json.dumps(record) + "\\n")
'''

HOLD = '''
import os, time
from pathlib import Path

def test_holds_the_stack(devstack, devstack_postgres):
    Path(os.environ["READY_FILE"]).write_text(devstack.project)
    time.sleep(600)
'''

SMALL = """\
project: small
runtime: native
services:
  db: {kind: postgres, seed: [seed.sql]}
  cache: {kind: redis}
  mail: {kind: mailpit, mode: stub}
"""


def copy_example(target: Path) -> Path:
    shutil.copytree(EXAMPLE, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".devstack", ".env", "__pycache__"))
    return target


def session_leftovers(root: Path) -> list[str]:
    """What is left of the test stacks of the project in `root`: processes whose argv or cwd
    is in its .devstack/test-runs/ or in a session's data dir, session dirs, containers."""
    runs = str(root / ".devstack" / "test-runs")
    data = f"/var/lib/devstack/{_project(root)}-test-"
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue  # exited, not yet reaped by its parent
        text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        if runs in text or data in text:
            found.append(f"PID {proc.info['pid']}: {text.strip()[:160]}")
    if Path(runs).is_dir():
        found += [f"dir {p}" for p in Path(runs).iterdir()]
    if shutil.which("docker"):
        names = subprocess.run(["docker", "ps", "-a", "--filter", "label=dev.devstack.session", "--format", "{{.Names}}"],
                               capture_output=True, text=True).stdout.split()
        found += [f"container {n}" for n in names if n.startswith(f"devstack-{_project(root)}-test-")]
    return found


def _project(root: Path) -> str:
    import yaml

    try:
        return yaml.safe_load((root / "devstack.yaml").read_text()).get("project") or root.name
    except OSError:
        return root.name


def registry_owners() -> set[str]:
    path = Path(os.environ["DEVSTACK_HOME"]) / "ports.json"
    return {owner["root"] for owner in json.loads(path.read_text()).values()} if path.exists() else set()


def wait_until_clean(root: Path, timeout: float = 15.0) -> float:
    started = time.monotonic()
    while session_leftovers(root):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"left after {timeout:.0f}s: {session_leftovers(root)}")
        time.sleep(0.2)
    return time.monotonic() - started


def assert_clean(root: Path) -> None:
    assert session_leftovers(root) == []
    assert not [owner for owner in registry_owners() if "test-runs" in owner]


def run_example(pytester, *args: str):
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args, timeout=900)


# -- the example app's suite ---------------------------------------------------------
def test_example_suite_passes_serially_and_leaves_nothing(pytester):
    copy_example(pytester.path)
    result = run_example(pytester)
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    assert "devstack: example-app-test-" in result.stderr.str()  # its own stack, not the developer's
    assert_clean(pytester.path)
    assert not (pytester.path / ".env").exists()  # the session's .env lives in its state dir


def test_example_suite_with_two_xdist_workers_shares_one_stack(pytester, monkeypatch):
    copy_example(pytester.path)
    (pytester.path / "tests" / "conftest.py").write_text(WHICH_STACK)
    record = pytester.path / "which.jsonl"
    monkeypatch.setenv("WHICH_STACK_FILE", str(record))
    # loadfile: each file's tests in order on one worker (the inbox and stub logs are shared by the workers)
    result = run_example(pytester, "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    assert {s["worker"] for s in seen} == {"gw0", "gw1"}
    assert len({(s["project"], s["port"]) for s in seen}) == 1  # one stack per run, not one per worker
    owned: dict[str, set] = {}
    for s in seen:
        owned.setdefault(s["worker"], set()).add((s["database"], s["redis_db"]))
    assert all(len(v) == 1 for v in owned.values()) and owned["gw0"] != owned["gw1"]  # a database and Redis db per worker
    assert_clean(pytester.path)


# -- the developer's stack of the same project ------------------------------------------
def test_a_run_beside_the_developers_stack_leaves_it_untouched_and_two_runs_coexist(pytester, cli):
    copy_example(pytester.path)
    cli("up", cwd=pytester.path, check=True)
    try:
        dev_env = (pytester.path / ".env").read_text()
        dev_pids = {p.name: json.loads(p.read_text())["pid"] for p in (pytester.path / ".devstack").glob("*/pid")}
        import psycopg

        url = dict(line.split("=", 1) for line in dev_env.splitlines() if "=" in line)["DATABASE_URL"].strip('"')
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO users (email) VALUES ('dev@example.test')")
        # Two test runs of this project at once, while its dev stack is up.
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        runs = [subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(2)]
        outputs = [run.communicate(timeout=900)[0] for run in runs]
        for run, output in zip(runs, outputs, strict=True):
            assert run.returncode == 0, output[-3000:]
            assert f"{EXAMPLE_TESTS} passed" in output
        assert (pytester.path / ".env").read_text() == dev_env
        assert {p.name: json.loads(p.read_text())["pid"] for p in (pytester.path / ".devstack").glob("*/pid")} == dev_pids
        assert cli("status", cwd=pytester.path).returncode == 0  # every dev service still running and ready
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT email FROM users ORDER BY id").fetchall()[-1] == ("dev@example.test",)
        assert_clean(pytester.path)
        assert str(pytester.path) in registry_owners()  # the dev stack's ports are still its own
    finally:
        cli("down", "--volumes", cwd=pytester.path)


def test_attach_uses_the_running_dev_stack(pytester, cli):
    pytester.makefile(".yaml", devstack=SMALL)
    (pytester.path / "seed.sql").write_text("CREATE TABLE t (x int); INSERT INTO t VALUES (1);\n")
    pytester.makepyfile(test_attach='''
def test_on_the_dev_stack(devstack, devstack_postgres):
    assert devstack.project == "small"
    with devstack_postgres.connect() as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
        conn.execute("INSERT INTO t VALUES (2)")
''')
    result = run_example(pytester, "--devstack-attach")
    result.assert_outcomes(errors=1)
    assert "not running" in result.stdout.str() and "devstack up" in result.stdout.str()
    cli("up", cwd=pytester.path, check=True)
    try:
        run_example(pytester, "--devstack-attach").assert_outcomes(passed=1)
        run_example(pytester, "--devstack-attach").assert_outcomes(passed=1)  # the worker's database was reset and dropped
        assert not (pytester.path / ".devstack" / "test-runs").exists()
    finally:
        cli("down", "--volumes", cwd=pytester.path)


# -- options ---------------------------------------------------------------------------------
def test_options_are_flags_and_ini_keys_with_one_help(pytester):
    result = pytester.runpytest_subprocess("--help")
    text = " ".join(result.stdout.str().split())
    for flag in ("--devstack-manifest", "--devstack-file", "--devstack-runtime", "--devstack-attach", "--devstack-keep"):
        assert flag in text
    for key in ("devstack_manifest", "devstack_runtime", "devstack_attach", "devstack_keep"):
        assert key in text
    assert text.count("leave the test stack up after the run") == 2  # the flag's help and the ini key's: the same text
    pytester.makeini("[pytest]\ndevstack_runtime = podman\n")
    pytester.makepyfile(test_x="def test_x(devstack): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert "devstack_runtime = 'podman': use one of auto, docker, native" in result.stderr.str()


def test_manifest_from_ini_or_the_old_flag_and_keep_then_stop(pytester):
    app = pytester.path / "app"
    app.mkdir()
    (app / "devstack.yaml").write_text(SMALL.replace("  db: {kind: postgres, seed: [seed.sql]}\n", ""))
    pytester.makepyfile(test_keep='''
def test_redis(devstack_redis):
    devstack_redis.client().set("k", "v")
''')
    pytester.makeini("[pytest]\ndevstack_manifest = app/devstack.yaml\n")
    run_example(pytester).assert_outcomes(passed=1)
    assert_clean(app)
    pytester.makeini("[pytest]\n")
    result = run_example(pytester, "--devstack-file", "app/devstack.yaml", "--devstack-keep")
    result.assert_outcomes(passed=1)
    err = result.stderr.str()
    assert "kept the test stack small-test-" in err and "stop it:" in err
    kept = [p for p in (app / ".devstack" / "test-runs").iterdir()]
    assert len(kept) == 1 and session_leftovers(app)  # still running, as asked
    env = (kept[0] / ".env").read_text()
    assert "REDIS_URL=" in env and str(kept[0]) in err
    stop = subprocess.run([sys.executable, "-m", "devstack.session", "stop", str(kept[0])], capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0, stop.stderr
    assert_clean(app)


# -- postgres: what a test may do to its database ----------------------------------------------
RESET_CASES = '''
import pytest

SEEDED = [(1, "a"), (2, "b")]

def rows(db):
    with db.connect() as conn:
        return conn.execute("SELECT id, name FROM parent ORDER BY id").fetchall()

@pytest.mark.parametrize("change", [
    "TRUNCATE parent CASCADE",
    "DELETE FROM child WHERE parent_id = 1; DELETE FROM parent WHERE id = 1",
    "UPDATE parent SET name = 'z'",
    "SELECT nextval('parent_id_seq')",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE TYPE mood AS ENUM ('ok')",
    "DROP TABLE child",
    "CREATE INDEX ON parent (name)",
])
def test_change_then_seeded_again(devstack_postgres, change):
    assert rows(devstack_postgres) == SEEDED
    with devstack_postgres.connect() as conn:
        assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 2
        assert conn.execute("INSERT INTO parent (name) VALUES ('c') RETURNING id").fetchone()[0] == 3
        conn.execute(change)

def test_an_open_transaction_of_the_app_is_ended(devstack_postgres):
    import psycopg
    app = psycopg.connect(devstack_postgres.url)  # left open, mid-transaction, holding row locks
    app.execute("SELECT * FROM parent FOR UPDATE")
    app.execute("INSERT INTO child (parent_id) VALUES (1)")
    test_an_open_transaction_of_the_app_is_ended.conn = app

def test_after_the_open_transaction(devstack_postgres):
    assert rows(devstack_postgres) == SEEDED
    with devstack_postgres.connect() as conn:
        assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 2
'''


def test_postgres_undoes_every_kind_of_change(pytester):
    pytester.makefile(".yaml", devstack=SMALL)
    (pytester.path / "seed.sql").write_text(
        "CREATE TABLE parent (id serial PRIMARY KEY, name text);\n"
        "CREATE TABLE child (id serial PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id));\n"
        "INSERT INTO parent (name) VALUES ('a'), ('b');\nINSERT INTO child (parent_id) VALUES (1), (2);\n")
    pytester.makepyfile(test_reset=RESET_CASES)
    run_example(pytester).assert_outcomes(passed=10)
    assert_clean(pytester.path)


# -- killed mid-session ------------------------------------------------------------------------
def start_and_kill(root: Path, sig: int, *args: str) -> tuple[str, float]:
    """Start pytest on a test that holds the stack, kill it once the stack is up; returns
    (the session's project name, seconds until nothing of it was left)."""
    ready = root / "ready"
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_hold.py").write_text(HOLD)
    env = {**os.environ, "READY_FILE": str(ready)}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_hold.py", *args],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the held test never started:\n{proc.communicate()[0][-3000:]}")
            time.sleep(0.2)
        assert session_leftovers(root), "the session's processes should be visible while it runs"
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return ready.read_text(), wait_until_clean(root)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_pytest_leaves_no_native_process(tmp_path, sig):
    (tmp_path / "devstack.yaml").write_text(SMALL)
    (tmp_path / "seed.sql").write_text("CREATE TABLE t (x int);\n")
    name, seconds = start_and_kill(tmp_path, sig)
    assert name.startswith("small-test-") and seconds < 15
    assert_clean(tmp_path)
    assert not list(Path(os.environ.get("DEVSTACK_DATA_ROOT", "/var/lib/devstack")).glob(f"{name}-*"))
