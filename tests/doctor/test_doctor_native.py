"""`devstack doctor` on real native stacks: each check made to fail for real,
with its failure line and its fix (text and --json agree)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.doctor.conftest import REDIS, doctor, held_port, line
from tests.runtime.conftest import needs_servers

pytestmark = needs_servers


def test_healthy_stack_is_all_ok(project):
    stack = project(REDIS)
    stack.up()
    code, out, findings = doctor(stack)
    assert code == 0, out
    assert {f["level"] for f in findings} == {"ok"}, out
    assert out.splitlines()[-1] == "all good"
    assert "ok    stack" in out and "cache: ready (pid" in out
    assert "redis-server (" in line(out, "ok", "binary", "cache") and ", version " in line(out, "ok", "binary", "cache")
    assert "1 variable matches what the stack serves" in line(out, "ok", "drift", ".env")
    assert "clock" not in {f["check"] for f in findings}  # redis needs no host sanity checks


def test_port_held_by_another_program_names_its_pid(project):
    with held_port() as port:
        stack = project(f"runtime: native\nservices:\n  cache: {{kind: redis, port: {port}}}\n")
        code, out, findings = doctor(stack)
    assert code == 1
    found = line(out, "FAIL", "ports", "cache")
    assert f"port {port} (services.cache.port, tcp) is held by PID {os.getpid()} (" in found
    assert f"fix: stop it (`kill {os.getpid()}`), or set services.cache.port to a free port" in found
    [as_json] = [f for f in findings if f["check"] == "ports" and f["level"] == "fail"]
    assert as_json["subject"] == "cache" and f"PID {os.getpid()}" in as_json["message"] and as_json["fix"].startswith("stop it")


def test_sigkilled_service_is_dead_with_its_last_log_lines(project):
    stack = project(REDIS)
    stack.up()
    pid = stack.pids()["cache"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    code, out, _ = doctor(stack)
    assert code == 1
    found = line(out, "FAIL", "stack", "cache")
    assert f"cache: dead: process {pid} is gone (crashed or killed); last lines of its log:" in found
    assert "Ready to accept connections" in found  # redis' own log line, from the log since its last start
    assert "fix: `devstack up` starts it again; `devstack logs cache` shows the whole log" in found


def test_stopped_process_runs_but_does_not_answer(project):
    stack = project(REDIS)
    stack.up()
    pid = stack.pids()["cache"]
    os.kill(pid, signal.SIGSTOP)
    try:
        code, out, _ = doctor(stack)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert code == 1
    found = line(out, "FAIL", "stack", "cache")
    assert f"cache: running (pid {pid}) but does not answer:" in found
    assert "fix: `devstack logs cache` shows why" in found


def test_processes_left_behind_by_a_dead_leader(project):
    stack = project(REDIS)
    stack.cli("render")
    # A leader that exits at once, leaving a child in its process group.
    leader = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    child = int(leader.stdout.readline())
    leader.wait()
    try:
        (stack.state / "cache").mkdir(parents=True, exist_ok=True)
        (stack.state / "cache" / "pid").write_text(json.dumps({"pid": leader.pid, "start_time": "1", "argv": ["redis-server"]}))
        code, out, _ = doctor(stack)
    finally:
        os.kill(child, signal.SIGKILL)
    assert code == 1
    found = line(out, "FAIL", "leftovers", "cache")
    assert f"cache's server is gone but processes of it are left: PID {child} (sleep 300)" in found
    assert "fix: `devstack down` stops them" in found


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="a read-only bind mount needs root")
def test_read_only_state_dir(project):
    stack = project(REDIS)
    stack.cli("render")
    state = stack.state
    # A private mount namespace: the read-only bind mount exists for this doctor run only.
    script = f"mount --bind {state} {state} && mount -o remount,bind,ro {state} && exec {sys.executable} -m devstack doctor"
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], cwd=stack.root, env=stack.env_vars(), capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    found = line(result.stdout, "FAIL", "state", ".devstack")
    assert f"{state} is on a read-only file system (mounted at {state})" in found
    assert f"fix: remount it read-write (`mount -o remount,rw {state}`), or move the project to a writable disk" in found


def test_hand_edited_env_and_a_variable_the_manifest_lacks(project):
    stack = project(REDIS)
    stack.up()
    env = stack.root / ".env"
    text = env.read_text()
    port = stack.outputs()["cache"]["port"]
    password = stack.outputs()["cache"]["password"]
    env.write_text(text.replace(f":{port}/0", ":6390/0") + "SENTRY_DSN=https://example.invalid/1\n")
    code, out, findings = doctor(stack)
    assert code == 1
    found = line(out, "FAIL", "drift", ".env")
    assert (".env differs from what the running stack serves: "
            f"REDIS_URL (.env redis://:***@127.0.0.1:6390/0, served redis://:***@127.0.0.1:{port}/0)") in found
    assert "fix: `devstack render` rewrites .env from the manifest" in found
    extra = line(out, "warn", "drift", ".env")
    assert ".env sets SENTRY_DSN, which the manifest's env does not" in extra
    assert 'fix: add under `env:` in devstack.yaml:\nSENTRY_DSN: "https://example.invalid/1"' in extra
    assert password not in out and password not in json.dumps(findings)
    # The password changed by hand: named, never shown.
    env.write_text(text.replace(password, "hunter2hunter2"))
    _, out, _ = doctor(stack)
    assert "REDIS_URL (differs in a password or secret: not shown)" in line(out, "FAIL", "drift", ".env")
    assert "hunter2" not in out and password not in out


def test_binary_named_by_the_manifest_is_missing(project):
    stack = project("runtime: native\nservices:\n  cache: {kind: redis, bin: /nonexistent/redis-server}\n")
    code, out, _ = doctor(stack)
    assert code == 1
    found = line(out, "FAIL", "binary", "cache")
    assert "bin: /nonexistent/redis-server is not an executable redis-server" in found
    assert "fix: fix the path, or remove `bin` to let devstack look for it" in found


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="hiding a program needs a private mount namespace (root)")
def test_binary_hidden_from_the_machine_gets_an_install_line(project):
    stack = project("runtime: native\nservices:\n  turn: {kind: coturn}\n")
    turnserver = shutil.which("turnserver")
    # /dev/null over the program, in a mount namespace of this run only: it is not a file anymore.
    script = f"mount --bind /dev/null {turnserver} && exec {sys.executable} -m devstack doctor"
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], cwd=stack.root, env=stack.env_vars(), capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    found = line(result.stdout, "FAIL", "binary", "turn")
    assert "no TURN server (turnserver, from coturn) on this machine (looked for turnserver in PATH and the usual dirs)" in found
    if shutil.which("apt-cache"):
        assert "fix: `apt-get install -y coturn` (coturn " in found
    assert "or set `bin:` to its path" in found


def test_host_program_older_than_the_kind_asks(project):
    """postgres `version: 16` with only PostgreSQL 15 installed: it runs, with a warning and the way to 16."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    majors = {p.parts[-3] for p in installed}
    wanted = str(max(int(m) for m in majors) + 1)
    stack = project(f"runtime: native\nservices:\n  db: {{kind: postgres, version: {wanted}}}\n")
    code, out, _ = doctor(stack)
    found = line(out, "warn", "binary", "db")
    assert f"is version {max(majors, key=int)}." in found and f"db asks for version {wanted}" in found
    assert "PostgreSQL's own apt repository" in found and "or set `bin_dir:` to one that is" in found
    if shutil.which("apt-cache"):
        assert f"(apt has no postgresql-{wanted} package)" in found
    assert code == 0, out  # a warning, not a failure


def test_touched_fixture_since_the_last_seed(project):
    stack = project("runtime: native\nservices:\n  cache:\n    kind: redis\n    seed: [seed/flags.yaml]\n")
    (stack.root / "seed").mkdir()
    (stack.root / "seed" / "flags.yaml").write_text("flag:dark_mode: 'on'\n")
    stack.cli("up")
    _, out, _ = doctor(stack)
    assert "1 fixture file unchanged since the last seed" in line(out, "ok", "fixtures", "cache")
    (stack.root / "seed" / "flags.yaml").write_text("flag:dark_mode: 'off'\n")
    code, out, _ = doctor(stack)
    found = line(out, "warn", "fixtures", "cache")
    assert "fixtures changed since the last seed (" in found and "): seed/flags.yaml" in found
    assert "fix: `devstack seed cache` loads them" in found
    assert code == 0


def test_tool_older_than_the_manifest_asks(project, tmp_path):
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "node").write_text("#!/bin/sh\necho v18.19.0\n")
    (bin_dir / "node").chmod(0o755)
    stack = project(REDIS + "tools:\n  node: '>= 20'\n  no-such-tool-xyz: '*'\n")
    code, out, findings = doctor(stack, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert code == 1
    found = line(out, "FAIL", "tools", "node")
    assert f"node 18.19.0 ({bin_dir / 'node'}) does not meet >= 20" in found
    assert "nvm install 20" in found and "setup_20.x" in found
    from devstack.doctor import install

    if shutil.which("apt-cache") and not any(v.startswith(("2", "3")) and int(v.split(".")[0]) >= 20 for v, _ in install.apt_versions("nodejs")):
        assert "fix: `apt-get install -y nodejs`" not in found  # Debian 12's nodejs is 18
    assert "`no-such-tool-xyz` is not installed" in line(out, "FAIL", "tools", "no-such-tool-xyz")


def test_host_sanity_only_where_a_kind_needs_it_and_loopback_for_real(project):
    stack = project("runtime: native\nservices:\n  turn: {kind: coturn}\n")
    code, out, _ = doctor(stack)
    assert "UDP round trip over 127.0.0.1 works" in line(out, "ok", "loopback", "127.0.0.1")
    assert "resolves to 127.0.0.1" in line(out, "ok", "dns", "localhost")
    line(out, "ok", "clock", "clock")
    if os.geteuid() == 0 and shutil.which("unshare"):
        # A fresh network namespace has its loopback interface down.
        result = subprocess.run(["unshare", "--net", sys.executable, "-m", "devstack", "doctor"], cwd=stack.root,
                                env=stack.env_vars(), capture_output=True, text=True)
        found = line(result.stdout, "FAIL", "loopback", "127.0.0.1")
        assert "UDP over 127.0.0.1 does not work:" in found and "fix: bring the loopback interface up: `ip link set lo up`" in found
        assert result.returncode == 1


def test_service_filter_and_unknown_service(project):
    with held_port() as port:
        stack = project(f"runtime: native\nservices:\n  cache: {{kind: redis}}\n  other: {{kind: redis, port: {port}}}\n")
        stack.cli("render")
        code, out, findings = doctor(stack, "cache")
        assert code == 0, out
        assert "other" not in {f["subject"] for f in findings}
        code, out, _ = doctor(stack, "other")
        assert code == 1 and f"port {port}" in line(out, "FAIL", "ports", "other")
    result = stack.cli("doctor", "cach", check=False)
    assert result.returncode == 2 and "no service `cach` in devstack.yaml" in result.stderr and "did you mean `cache`?" in result.stderr


def test_broken_manifest_gives_the_same_messages_as_up(project):
    stack = project("runtime: native\nservices:\n  cache: {kind: redis, pasword: x}\n")
    up = stack.cli("up", check=False)
    code, out, findings = doctor(stack)
    assert code == 1
    problem = [ln for ln in up.stderr.splitlines() if "pasword" in ln][0].strip()
    assert problem.split(" (")[0] in line(out, "FAIL", "manifest", "devstack.yaml")
    assert findings[0]["check"] == "manifest" and findings[0]["level"] == "fail"
    (stack.root / "devstack.yaml").write_text(REDIS)  # so the teardown's `down` can read it


def test_json_has_the_same_verdicts_as_the_text(project):
    with held_port() as port:
        stack = project(f"runtime: native\nservices:\n  cache: {{kind: redis, port: {port}}}\ntools:\n  no-such-tool-xyz: '>= 1'\n")
        code, out, findings = doctor(stack)
    assert code == 1
    assert all(set(f) == {"check", "level", "subject", "message", "fix"} for f in findings)
    marks = {"ok": "ok", "warn": "warn", "fail": "FAIL"}
    text = [ln.split()[:3] for ln in out.splitlines() if ln[:4] in ("ok  ", "warn", "FAIL")]
    assert text == [[marks[f["level"]], f["check"], f["subject"] + ":"] for f in findings]
    assert {f["level"] for f in findings} >= {"ok", "fail"}


def test_never_started_project_creates_no_file(example, tmp_path, devstack_home):
    root = example("railgun")
    data_root = tmp_path / "data-root"
    data_root.mkdir()
    env = {**os.environ, "DEVSTACK_RUNTIME": "native", "DEVSTACK_DATA_ROOT": str(data_root), "DEVSTACK_HOME": str(devstack_home)}

    def listing():
        return {str(p): p.stat().st_mtime_ns for base in (root, data_root, devstack_home) for p in [base, *base.rglob("*")]}

    before = listing()
    result = subprocess.run([sys.executable, "-m", "devstack", "doctor"], cwd=root, env=env, capture_output=True, text=True)
    assert "Traceback" not in result.stderr, result.stderr
    assert "not running" in line(result.stdout, "warn", "stack", "railgun")
    assert ".env is not written yet" in result.stdout
    assert listing() == before
    assert not (root / ".devstack").exists()


def test_docker_engine_that_is_not_there(project, tmp_path):
    stack = project("runtime: docker\nservices:\n  cache: {kind: redis}\n")
    socket_path = tmp_path / "no-engine.sock"
    code, out, _ = doctor(stack, env={"DEVSTACK_RUNTIME": "docker", "DOCKER_HOST": f"unix://{socket_path}"})
    assert code == 1
    if shutil.which("docker"):
        found = line(out, "FAIL", "runtime", "docker")
        assert f"no Docker engine: {socket_path} does not exist" in found
        assert "fix: start the engine (`sudo systemctl start docker`, or Docker Desktop), or use `--runtime native`" in found
    else:
        assert "the docker CLI is not installed" in line(out, "FAIL", "runtime", "docker")
