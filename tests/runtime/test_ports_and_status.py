"""Ports that stay put (and say so when they can't), `status` as a gate, read-only
commands that write nothing, and credentials generated once under the lock."""

from __future__ import annotations

import os
import signal
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.runtime.conftest import needs_servers

pytestmark = needs_servers

TWO = "project: ports\nservices:\n  cache: {kind: redis}\n  flags: {mode: stub}\n"


@contextmanager
def holding(port: int):
    """A listening socket of this (pytest) process on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock


def env_file(stack) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (stack.root / ".env").read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {k: v.strip('"') for k, v in pairs}


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_a_kept_port_taken_meanwhile_moves_only_that_service_and_names_the_holder(native_stack):
    stack = native_stack(TWO)
    stack.up()
    before = env_file(stack)
    stack.cli("down")
    old = port_of(before["REDIS_URL"])
    with holding(old):
        result = stack.up()
    line = f"cache: port {old} is held by PID {os.getpid()} ("
    assert line in result.stderr, result.stderr
    after = env_file(stack)
    new = port_of(after["REDIS_URL"])
    assert f"moved to {new} (rewrote .env)" in result.stderr
    assert new != old
    assert after["FEATURE_FLAGS_URL"] == before["FEATURE_FLAGS_URL"]  # the others stay put
    assert redis.Redis.from_url(after["REDIS_URL"]).ping()
    stack.cli("down")
    assert "moved" not in stack.up().stderr  # and it stays on the new one
    assert env_file(stack)["REDIS_URL"] == after["REDIS_URL"]


def test_pinned_ports_taken_fail_before_anything_starts_each_holder_named(native_stack):
    with socket.socket() as a, socket.socket() as b:
        for s in (a, b):
            s.bind(("127.0.0.1", 0))
            s.listen()
        pa, pb = a.getsockname()[1], b.getsockname()[1]
        stack = native_stack(f"project: pinned\nservices:\n  cache:\n    kind: redis\n    port: {pa}\n"
                             f"  flags:\n    mode: stub\n    port: {pb}\n")
        result = stack.cli("up", check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "2 ports set in the manifest are taken" in result.stderr
    assert f"devstack.yaml:5: services.cache.port: port {pa} is held by PID {os.getpid()} (" in result.stderr
    assert f"devstack.yaml:8: services.flags.port: port {pb} is held by PID {os.getpid()} (" in result.stderr
    assert "change `port:`" in result.stderr and "run `devstack up` again" not in result.stderr
    assert not list(stack.state.glob("*/pid")), "nothing may start"


def test_status_exits_0_only_when_every_service_is_ready(native_stack):
    stack = native_stack(TWO)
    assert stack.cli("status", check=False).returncode == 1
    stack.up()
    assert stack.cli("status", check=False).returncode == 0
    os.kill(stack.pids()["cache"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while stack.status()["cache"]["state"] != "dead" and time.monotonic() < deadline:
        time.sleep(0.05)
    result = stack.cli("status", check=False)
    assert result.returncode == 1
    assert "not ready: cache (dead)" in result.stderr


def listing(*roots: Path) -> set[str]:
    found = set()
    for root in roots:
        if root.exists():
            found |= {str(p) for p in root.rglob("*")} | {str(root)}
    return found


def test_status_on_a_never_started_project_writes_nothing(native_stack, devstack_home, tmp_path):
    stack = native_stack("project: untouched\nservices:\n  db: {kind: postgres}\n  cache: {kind: redis}\n  flags: {mode: stub}\n")
    data_root = tmp_path / "data-root"  # its own: other stacks on this machine write to the shared one
    data_root.mkdir()
    before = listing(stack.root, data_root, devstack_home)
    for args in (("status",), ("status", "--json"), ("logs", "cache")):
        stack.cli(*args, check=False, env={"DEVSTACK_DATA_ROOT": str(data_root)})
    assert listing(stack.root, data_root, devstack_home) == before


def test_env_during_a_first_up_prints_the_credentials_the_servers_get(native_stack):
    """`up` and `env` at once on a fresh project: one set of credentials, made once."""
    for attempt in range(3):
        stack = native_stack("project: race\nservices:\n  cache: {kind: redis}\n", name=f"race{attempt}")
        up = stack.popen("up", "--no-seed")
        time.sleep(0.01 * attempt)
        printed = stack.cli("env").stdout
        assert up.wait(timeout=120) == 0, up.stderr.read()
        url = next(line.split("=", 1)[1] for line in printed.splitlines() if line.startswith("REDIS_URL="))
        assert redis.Redis.from_url(url).ping()
        assert env_file(stack)["REDIS_URL"] == url


def test_a_port_taken_between_planning_and_start_moves_and_up_retries_once(native_stack, monkeypatch):
    """The race (another program binds the port after devstack found it free) is
    simulated by a freeness check that always says free; the bind failure is real,
    and the retry moves the port even though it still looks free."""
    import json

    from devstack import operations, ports
    from devstack.project import Project

    stack = native_stack("project: race2\nservices:\n  cache: {kind: redis}\n")
    with holding(0) as sock:
        held = sock.getsockname()[1]
        stack.state.mkdir(mode=0o700)
        (stack.state / "ports.json").write_text(json.dumps({"cache.port": held}))
        real = ports.range_free

        def range_free(start, count, protocol):  # the other program binds it only now and then: it looks free
            return True if start == held else real(start, count, protocol)

        monkeypatch.setattr(ports, "range_free", range_free)
        lines: list[str] = []
        result = operations.up(Project(file=str(stack.root / "devstack.yaml"), runtime="native"), lines.append, seed=False)
    text = "\n".join(lines)
    assert "cache: another program took its port while it started; picking another" in text, text
    new = result.plan.services["cache"].ports["port"]
    assert new != held and f"cache: port {held} is held by" in text  # moved although it looked free
    assert redis.Redis.from_url(env_file(stack)["REDIS_URL"]).ping()
