"""Shared test setup: every test gets its own port registry (DEVSTACK_HOME)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def devstack_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("devstack-home")
    monkeypatch.setenv("DEVSTACK_HOME", str(home))
    return home


def run_cli(*args, cwd=None, env=None, check=False, timeout=300):
    """Run the devstack CLI as a user would (a subprocess), return CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([sys.executable, "-m", "devstack", *args], cwd=cwd, env=full_env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"devstack {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def example(tmp_path):
    """Copy fixtures/<name> into tmp_path (tests never write into the repo)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(ROOT / "fixtures" / name, target, ignore=shutil.ignore_patterns(".devstack", ".env"))
        return target

    return copy
