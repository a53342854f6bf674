"""The native runtime's building blocks: pid files, process groups, binary lookup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.errors import UserError
from devstack.runtime import binaries, process
from devstack.runtime.process import PidFile
from devstack.services.spec import FileSpec, InitStep, NativeSpec, Wanted, python_env, python_module, short_dir


def spec(argv, **kwargs) -> NativeSpec:
    return NativeSpec(argv=argv, implementation="test", **kwargs)


def test_spawn_detaches_logs_and_records_a_fingerprint(tmp_path):
    state = tmp_path / "svc"
    rec = process.spawn(spec([sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"]),
                        state, state / "log", state / "pid", {"port": 1234})
    try:
        assert os.getpgid(rec.pid) == rec.pid and os.getsid(rec.pid) == rec.pid  # own session and group
        again = PidFile.read(state / "pid")
        assert again.pid == rec.pid and again.start_time and again.ports == {"port": 1234}
        assert again.leader_alive()
        deadline = time.monotonic() + 10
        while "hello" not in (state / "log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "hello" in (state / "log").read_text()
    finally:
        assert process.stop_groups([(rec, 15)], timeout=5) == []
    assert not PidFile.read(state / "pid").leader_alive()


def test_a_reused_pid_is_not_taken_for_ours(tmp_path):
    other = subprocess.Popen(["sleep", "60"])
    try:
        stale = PidFile(tmp_path / "pid", other.pid, "12345", ["redis-server"])
        assert not stale.leader_alive() and not stale.group_left()
        assert process.stop_groups([(stale, 9)], timeout=1) == []
        assert other.poll() is None  # never signalled
    finally:
        other.kill()
        other.wait()


def test_unreadable_pid_file_is_stale(tmp_path):
    (tmp_path / "pid").write_text("garbage")
    rec = PidFile.read(tmp_path / "pid")
    assert rec is not None and not rec.leader_alive() and not rec.group_left()
    assert PidFile.read(tmp_path / "missing") is None


def test_stop_reaches_children_and_escalates_to_sigkill(tmp_path):
    # The leader ignores SIGTERM and has a child that does too: both get SIGKILL.
    script = "trap '' TERM; sh -c \"trap '' TERM; sleep 60\" & sleep 60; wait"
    rec = process.spawn(spec(["sh", "-c", script]), tmp_path, tmp_path / "log", tmp_path / "pid")
    time.sleep(0.3)
    family = process.members(rec.pid)
    assert len(family) >= 3
    start = time.monotonic()
    assert process.stop_groups([(rec, 15)], timeout=0.5) == []
    assert time.monotonic() - start < 5
    assert not process.still_running(family)


def test_init_steps_run_once_and_a_failure_is_reported(tmp_path):
    marker = tmp_path / "data" / "ready"
    steps = [InitStep(["sh", "-c", f"echo init >> {tmp_path}/count; touch {marker}"], creates=marker, description="init")]
    for _ in range(2):
        rec = process.spawn(spec(["sleep", "30"], dirs=[tmp_path / "data"], init=steps), tmp_path, tmp_path / "log", tmp_path / "pid")
        process.stop_groups([(rec, 15)], timeout=5)
    assert (tmp_path / "count").read_text() == "init\n"
    bad = [InitStep(["sh", "-c", "echo nope; exit 4"], creates=tmp_path / "never", description="setup")]
    with pytest.raises(process.SpawnError, match="setup failed"):
        process.spawn(spec(["sleep", "30"], init=bad), tmp_path, tmp_path / "log", tmp_path / "pid")
    assert "nope" in (tmp_path / "log").read_text()


def test_files_are_written_private(tmp_path):
    conf = tmp_path / "svc" / "secret.conf"
    rec = process.spawn(spec(["sleep", "30"], files=[FileSpec(conf, "password=x\n")]), tmp_path / "svc",
                        tmp_path / "svc" / "log", tmp_path / "svc" / "pid")
    process.stop_groups([(rec, 15)], timeout=5)
    assert conf.read_text() == "password=x\n" and (conf.stat().st_mode & 0o777) == 0o600


def test_stale_server_pid_files_are_removed_only_when_their_process_is_gone(tmp_path):
    dead, alive = tmp_path / "dead.pid", tmp_path / "alive.pid"
    dead.write_text("999999999\n/some/dir\n")
    alive.write_text(f"{os.getpid()}\n")
    process.clear_stale_pidfiles([dead, alive, tmp_path / "absent.pid"])
    assert not dead.exists() and alive.exists()


def test_tail_reads_from_the_offset(tmp_path):
    log = tmp_path / "log"
    log.write_text("old 1\nold 2\n")
    offset = log.stat().st_size
    with open(log, "a") as handle:
        handle.write("".join(f"new {i}\n" for i in range(30)))
    assert process.tail(log, 3, offset) == ["new 27", "new 28", "new 29"]
    assert process.tail(log, 100, offset)[0] == "new 0"
    assert process.tail(tmp_path / "none", 5) == []


def test_short_socket_dir():
    path = short_dir("/a/very/long/path" * 10)
    assert len(str(path / ".s.PGSQL.65535")) < 107 and path.name.startswith("devstack-")


def test_unprivileged_data_dir_when_root(tmp_path, monkeypatch):
    """Looking where the data goes writes nothing (status and doctor build specs
    too); the start places it: the dir, and as root its link and marker."""
    monkeypatch.setenv(process.DATA_ROOT_ENV, str(tmp_path / "root"))
    state = tmp_path / "project" / ".devstack" / "db"
    user = "postgres" if os.geteuid() == 0 else None
    data = process.data_dir(state, "proj-abc", "db", user)
    assert not (tmp_path / "root").exists() and not (tmp_path / "project").exists()
    if os.geteuid() == 0:
        assert data.path == tmp_path / "root" / "proj-abc" / "db" and data.volumes == (data.path,)
    else:
        assert data.path == state / "data" and data.volumes == ()
    rec = process.spawn(spec(["true"], data=data), state, state / "log", state / "pid")
    process.stop_groups([(rec, 15)], timeout=5)
    assert data.path.is_dir()
    if os.geteuid() == 0:
        assert (state / "data").is_symlink() and (state / "data").resolve() == data.path
        assert (tmp_path / "root" / "proj-abc" / ".project").read_text() == f"{tmp_path / 'project'}\n"
        assert process.data_dir(state, "proj-abc", "db", user) == data  # found again the same way


# -- binaries ---------------------------------------------------------------------------


WANTED = Wanted(names=("devstack-test-server",), what="test server", apt="test-server-pkg", brew="test-server",
                         pip="test-server-wheel", dirs=(), option="bin")


def test_configured_binary_wins(tmp_path):
    exe = tmp_path / "devstack-test-server"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert binaries.find(WANTED, str(exe)) == str(exe)
    assert binaries.find(WANTED, str(tmp_path)) == str(exe)  # a directory holding it
    with pytest.raises(UserError, match="not an executable"):
        binaries.find(WANTED, str(tmp_path / "nope"))


def test_path_then_usual_dirs(tmp_path, monkeypatch):
    exe = tmp_path / "bin" / "devstack-test-server"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert binaries.find(WANTED, required=False) is None
    wanted = Wanted(names=WANTED.names, what="x", dirs=(str(tmp_path / "b*"),))
    assert binaries.find(wanted) == str(exe)
    monkeypatch.setenv("PATH", str(exe.parent))
    assert binaries.find(WANTED) == str(exe)


def test_binary_shipped_in_a_pip_package_is_found(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "fakeredislite"
    (pkg / "bin").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    exe = pkg / "bin" / "devstack-test-server"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    wanted = Wanted(names=WANTED.names, what="x", pip_dirs=(("fakeredislite", "bin"),))
    assert binaries.find(wanted) == str(exe)


def test_missing_binary_names_the_package_and_stub_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError) as info:
        binaries.find(WANTED, stub_ok=True)
    text = info.value.render()
    assert "no test server on this machine" in text
    assert "apt-get install test-server-pkg" in text and "pip install test-server-wheel" in text
    assert "mode: stub" in text and "`bin:`" in text


def test_postgres_bin_dir_prefers_the_manifest_version(tmp_path, monkeypatch):
    for version in ("14", "16"):
        d = tmp_path / "pg" / version / "bin"
        d.mkdir(parents=True)
        for name in ("initdb", "postgres"):
            (d / name).write_text("#!/bin/sh\n")
            (d / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    wanted = Wanted(names=("initdb", "postgres"), what="PostgreSQL", dirs=(str(tmp_path / "pg" / "*" / "bin"),))
    assert binaries.find_dir(wanted, prefer_version="14") == tmp_path / "pg" / "14" / "bin"
    assert binaries.find_dir(wanted, prefer_version="17") == tmp_path / "pg" / "16" / "bin"  # newest otherwise
    assert Path(binaries.find_dir(wanted)).name == "bin"


# -- the pre-warmed launcher of stand-ins ------------------------------------------------


def test_forkserver_starts_a_detached_stand_in(tmp_path):
    import json
    import socket
    import urllib.request

    from devstack.runtime import forkserver

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "flags.json").write_text(json.dumps({"on": True}))
    argv = python_module("devstack.stubs.flags", "--port", port, "--config", tmp_path / "flags.json")
    assert forkserver.forkable(argv, None) == "devstack.stubs.flags"
    assert forkserver.forkable(argv, "postgres") is None and forkserver.forkable(["redis-server"], None) is None
    launcher = forkserver.ForkServer({**os.environ, **python_env()})
    try:
        rec = process.spawn(spec(argv, cwd=tmp_path), tmp_path / "flags", tmp_path / "flags" / "log", tmp_path / "flags" / "pid",
                            launcher=launcher)
    finally:
        launcher.close()
    try:
        assert rec.proc is None and rec.leader_alive()
        assert os.getsid(rec.pid) == rec.pid != os.getsid(0)  # its own session, like a spawned process
        deadline = time.monotonic() + 15
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "flags" / "log").read_text()
                time.sleep(0.05)
        assert json.loads(body) == {"on": True}
        assert "/config" in (tmp_path / "flags" / "log").read_text() or "listening" in (tmp_path / "flags" / "log").read_text()
        assert Path(f"/proc/{rec.pid}/comm").read_text().strip() == "ds-flags"
    finally:
        assert process.stop_groups([(rec, 15)], timeout=5) == []


def test_forkserver_imports_aiohttp_without_ca_certificates_and_webhooks_bring_their_own(tmp_path):
    """The helper skips loading CA certificates into aiohttp's default client contexts
    (start-up time); the Stripe emulator's webhook sender, the one client among the
    stand-ins, must then verify HTTPS with a context of its own holding them."""
    code = """if True:
        import asyncio, os, ssl, sys
        from devstack.runtime import forkserver
        with forkserver._without_ca_certificates():
            import aiohttp.connector
        assert "SSL_CERT_FILE" not in os.environ, "the env is put back"
        assert aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"] == 0
        from devstack.stubs.stripe.delivery import Deliverer

        async def main():
            session = Deliverer(None).client()
            context = session.connector._ssl
            assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
            assert context.cert_store_stats()["x509_ca"] > 0
            await session.close()
        asyncio.run(main())
        print("ok")
    """
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, **python_env()}, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


# -- building specs looks, never writes ---------------------------------------------------


def test_building_every_native_spec_writes_nothing(tmp_path, monkeypatch):
    """status, doctor and down build each kind's NativeSpec: that must leave the
    project dir, the data root and devstack's home exactly as they were."""
    import shutil as sh

    from devstack import manifest, plan
    from devstack.runtime.host import native_spec

    golden = Path(__file__).resolve().parents[1] / "golden" / "all-kinds.yaml"
    project = tmp_path / "project"
    project.mkdir()
    sh.copy(golden, project / "devstack.yaml")
    monkeypatch.setenv(process.DATA_ROOT_ENV, str(tmp_path / "root"))
    monkeypatch.setenv("DEVSTACK_HOME", str(tmp_path / "home"))
    stack = plan.build(manifest.load(project / "devstack.yaml"))

    def snapshot():
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    before = snapshot()
    built = {}
    for svc in stack.services.values():
        if svc.runs:
            try:
                built[svc.name] = native_spec(svc, stack)
            except UserError:  # a program this machine lacks (and no stand-in)
                continue
    assert snapshot() == before
    assert "db" in built or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if "db" in built and os.geteuid() == 0:  # as root the data goes under the data root: described, not made
        assert built["db"].data.path.is_relative_to(tmp_path / "root") and built["db"].user


# -- postgres: a new data dir from the cached cluster -------------------------------------


def _cluster(root: Path) -> Path:
    """A stand-in for an initdb-made cluster: what the copy script walks."""
    for rel in ("base/1/1259", "base/4/1259", "base/5/2608", "global/pg_control", "pg_wal/000000010000000000000001",
                "postgresql.conf", "pg_hba.conf"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "pg_twophase").mkdir()
    (root / "PG_VERSION").write_text("15\n")
    return root


def test_a_new_data_dir_is_an_exact_copy_of_the_cached_cluster_and_pg_version_comes_last(tmp_path):
    import filecmp

    from devstack.services.postgres import INIT_FROM_TEMPLATE

    cache, data = _cluster(tmp_path / "cache"), tmp_path / "data"
    data.mkdir()
    run = ["sh", "-c", INIT_FROM_TEMPLATE, "devstack-initdb", "false", str(cache), str(data), "app", ""]
    assert subprocess.run(run, capture_output=True).returncode == 0  # initdb ("false") is not run: the cache is there

    def same(a: Path, b: Path) -> bool:
        cmp = filecmp.dircmp(a, b)
        return not (cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files) and all(
            same(a / d, b / d) for d in cmp.common_dirs)

    assert same(cache, data)
    # A copy that fails part-way leaves no PG_VERSION: the step is redone, never taken as done.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "global").write_text("a file where a directory goes")
    run[6] = str(broken)
    assert subprocess.run(run, capture_output=True).returncode != 0
    assert not (broken / "PG_VERSION").exists() and (broken / "base" / "1" / "1259").exists()
