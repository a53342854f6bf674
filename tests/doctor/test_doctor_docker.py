"""`devstack doctor` under Docker: the engine, compose, and an image the engine lacks.

Without an engine these tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
import signal
import socket
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.doctor.conftest import doctor, line

pytestmark = pytest.mark.docker


@pytest.fixture
def engine():
    from devstack.runtime.engine import engine_answers

    if not shutil.which("docker") or not engine_answers():
        reason = "no Docker engine answers (run .ci/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but {reason}", pytrace=False)
        pytest.skip(reason)


def test_missing_image_is_named_with_the_way_to_get_it(engine, project):
    image = "devstack-doctor-test/absent-redis:0.0.1"
    assert subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0
    stack = project(f"runtime: docker\nservices:\n  cache: {{kind: redis, image: '{image}'}}\n")
    code, out, findings = doctor(stack, env={"DEVSTACK_RUNTIME": "docker"})
    assert code == 1
    assert "compose plugin " in line(out, "ok", "runtime", "docker compose")
    assert "answers; ports on 127.0.0.1" in line(out, "ok", "runtime", "docker")
    found = line(out, "FAIL", "images", image)
    assert f"image {image} is not on the engine and cannot be pulled (" in found
    assert f"fix: `docker pull {image}` once its registry is reachable; or build or load it (`docker build -t {image} ...`" in found
    assert "set services.cache.image in the manifest to an image the engine has" in found
    assert [f["subject"] for f in findings if f["level"] == "fail"] == [image]
    assert not (stack.root / ".devstack").exists()  # nothing written under Docker either


def test_port_held_by_a_container_names_it_and_its_project(engine, project):
    root = Path(__file__).resolve().parents[2]
    built = subprocess.run(["bash", str(root / "tests" / "docker" / "images" / "build.sh")], capture_output=True, text=True, timeout=3600)
    assert built.returncode == 0, built.stderr[-3000:]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    name = f"devstack-doctor-holder-{os.getpid()}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--label", "com.docker.compose.project=doctor-other",
                    "-p", f"127.0.0.1:{port}:6379", "devstack-test/redis:7"], check=True, capture_output=True)
    try:
        stack = project(f"runtime: docker\nservices:\n  cache: {{kind: redis, image: 'devstack-test/redis:7', port: {port}}}\n")
        code, out, _ = doctor(stack, env={"DEVSTACK_RUNTIME": "docker"})
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert code == 1
    found = line(out, "FAIL", "ports", "cache")
    assert f"port {port} (services.cache.port, tcp) is held by container {name} (compose project doctor-other)" in found
    assert "fix: stop it, or set services.cache.port to a free port" in found


def test_a_host_process_beside_the_containers_is_part_of_the_stack(engine, project):
    """Stripe's emulator runs on the host under Docker too (`mode: run`): it is the
    stack's, not a leftover of a native run, and dead it shows its own log."""
    stack = project("runtime: docker\nservices:\n  pay: {kind: stripe}\n")
    stack.up(env={"DEVSTACK_RUNTIME": "docker"})
    code, out, findings = doctor(stack, env={"DEVSTACK_RUNTIME": "docker"})
    assert code == 0, out
    assert "pay: ready (pid " in line(out, "ok", "stack", "pay")
    assert not [f for f in findings if f["check"] == "leftovers"], out
    pid = stack.pids()["pay"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    code, out, _ = doctor(stack, env={"DEVSTACK_RUNTIME": "docker"})
    assert code == 1
    found = line(out, "FAIL", "stack", "pay")
    assert f"pay: dead: process {pid} is gone (crashed or killed); last lines of its log:" in found
    assert "stripe http listening on" in found  # the emulator's own log line
