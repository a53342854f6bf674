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
    """Processes of a test stack of the project in `root` (their argv or cwd is in its
    .devstack/test-runs/ or a session's data dir), and session dirs still there."""
    runs = str(root / ".devstack" / "test-runs")
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        except psutil.Error:
            continue
        if runs in text or "-test-" in text and "/var/lib/devstack/" in text and root.name in text:
            if "devstack.session.watcher" not in text or proc.status() != psutil.STATUS_ZOMBIE:
                found.append(f"PID {proc.info['pid']}: {text.strip()[:160]}")
    if Path(runs).is_dir():
        found += [f"dir {p}" for p in Path(runs).iterdir()]
    return found


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
