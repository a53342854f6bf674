"""A kind from another package, end to end: examples/devstack-echo (pyproject, one
module, one template, a `devstack.kinds` entry point) is copied to a temp dir,
pip-installed into a fresh venv, and used as a user would through the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A venv that sees this interpreter's packages (pip, setuptools, devstack's
    dependencies) and holds the plugin, built from its own pyproject."""
    root = tmp_path_factory.mktemp("plugin")
    package = root / "devstack-echo"
    shutil.copytree(REPO / "examples" / "devstack-echo", package)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--no-index", str(package)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list((root / "venv" / "lib").glob("python*/site-packages/devstack_echo/echo.yaml.j2"))  # the template is package data
    return root / "venv"


def devstack(venv: Path, cwd: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEVSTACK_HOME": str(cwd / ".home")}
    env.pop("DOCKER_HOST", None)
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "devstack", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"devstack {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_plugin_kind_is_listed_with_its_origin(venv, tmp_path):
    out = devstack(venv, tmp_path, "kinds").stdout
    line = next(line for line in out.splitlines() if line.startswith("echo "))
    assert "devstack-echo 0.1.0" in line and "run, off, external" in line and "answers GET / with a greeting" in line
    assert any(line.startswith("postgres ") and " devstack " in line for line in out.splitlines())  # devstack's own still there
    shown = devstack(venv, tmp_path, "kinds", "echo").stdout
    assert "from: devstack-echo 0.1.0" in shown and "greeting  str" in shown and "ECHO_URL  {{ url }}" in shown


def test_a_manifest_using_it_validates(venv, tmp_path):
    (tmp_path / "devstack.yaml").write_text("project: hello\nservices:\n  greeter:\n    kind: echo\n    greetng: hi\n    image: [x]\n"
                                             "  other:\n    kind: echo\n    greeting: ''\n")
    result = devstack(venv, tmp_path, "env", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "devstack.yaml:5: services.greeter.greetng: unknown key `greetng` (did you mean `greeting`?)" in result.stderr
    assert "devstack.yaml:6: services.greeter.image: expected" in result.stderr
    assert "devstack.yaml:9: services.other.greeting: must not be empty" in result.stderr  # the kind's own check
    (tmp_path / "devstack.yaml").write_text("project: hello\nservices:\n  greeter: {kind: echo, greeting: hi}\n")
    assert re.fullmatch(r"ECHO_URL=http://127\.0\.0\.1:\d+\n", devstack(venv, tmp_path, "env").stdout)


def test_its_template_renders_into_the_compose_file(venv, tmp_path):
    (tmp_path / "devstack.yaml").write_text("project: hello\nservices:\n  greeter: {kind: echo, greeting: hi}\n")
    devstack(venv, tmp_path, "render")
    compose = (tmp_path / ".devstack" / "compose.yaml").read_text()
    assert "image: python:3.12-alpine" in compose and "GREETING: hi" in compose and "dev.devstack.kind: echo" in compose


def test_up_runs_it_natively_and_down_stops_it(venv, tmp_path):
    (tmp_path / "devstack.yaml").write_text("project: hello\nservices:\n  greeter: {kind: echo, greeting: hi there}\n")
    pid = None
    try:
        up = devstack(venv, tmp_path, "--runtime", "native", "up")
        assert "greeter: starting echo server (devstack-echo)" in up.stderr
        url = re.search(r"^ECHO_URL=(\S+)$", (tmp_path / ".env").read_text(), re.MULTILINE).group(1)
        assert urllib.request.urlopen(url + "/", timeout=5).read() == b"hi there"
        pid = json.loads((tmp_path / ".devstack" / "greeter" / "pid").read_text())["pid"]
        assert "ready" in devstack(venv, tmp_path, "--runtime", "native", "status").stdout
    finally:
        devstack(venv, tmp_path, "--runtime", "native", "down")
    assert pid and not alive(pid)
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/", timeout=2)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")
