"""Nothing devstack starts runs unrecorded: the project's mark on every process,
the fork helper dying with its `up`, a failed pid file write, servers' own lock
files naming a live process, and state writes on a read-only or full disk."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devstack.errors import NotWritable
from devstack.runtime import forkserver, process
from devstack.runtime.process import PidFile
from devstack.services.spec import NativeSpec, python_module


def sleeper(**kwargs) -> NativeSpec:
    return NativeSpec(argv=[sys.executable, "-c", "import time; time.sleep(60)"], implementation="test", **kwargs)


def wait_until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_process_whose_pid_file_is_lost_is_found_by_the_mark_and_stopped(tmp_path):
    state = tmp_path / ".devstack"
    rec = process.spawn(sleeper(), state / "svc", state / "svc" / "log", state / "svc" / "pid")
    rec.remove()  # as if `up` had died before writing it
    try:
        found = process.marked_processes(state)
        assert [(m.pid, m.service) for m in found] == [(rec.pid, "svc")]
        assert process.marked_processes(tmp_path / "other" / ".devstack") == []  # another project's are not ours
        assert process.stop_project(state, timeout=5) == []
        assert not rec.leader_alive()
    finally:
        process.stop_groups([(rec, signal.SIGKILL)], timeout=5)


def test_a_stand_in_forked_by_the_helper_is_found_by_its_log(tmp_path):
    state = tmp_path / ".devstack"
    (tmp_path / "flags.json").write_text("{}")
    argv = python_module("devstack.stubs.flags", "--port", free_port(), "--config", tmp_path / "flags.json")
    launcher = forkserver.ForkServer(forkserver.helper_env(state))
    try:
        rec = process.spawn(NativeSpec(argv=argv, implementation="flags"), state / "flags", state / "flags" / "log",
                            state / "flags" / "pid", launcher=launcher)
        # Just forked, the child may not have its log as stdout yet (what names its service here).
        wait_until(lambda: os.readlink(f"/proc/{rec.pid}/fd/1") == str(state / "flags" / "log"))
        found = {m.pid: m.service for m in process.marked_processes(state)}
        assert launcher.proc.pid not in found  # the helper itself dies with its `up`
    finally:
        launcher.close()
    try:
        assert found == {rec.pid: "flags"}
        assert process.stop_project(state, timeout=5) == []
        assert not rec.leader_alive() and not (state / "flags" / "pid").exists()
    finally:
        process.stop_groups([(rec, signal.SIGKILL)], timeout=5)


def test_a_server_that_writes_its_title_over_its_environment_is_found_by_its_log(tmp_path):
    """Redis (set-proc-title, its default) overwrites its environment with its
    title, mark included: the bug was a killed `up`'s redis that no later `up`
    stopped, so its port moved. Started here as redis does by default."""
    import shutil

    redis = shutil.which("redis-server")
    assert redis, "redis-server is installed for the native tests (apt-get install redis-server)"
    state = tmp_path / ".devstack"
    spec = NativeSpec(argv=[redis, "--port", str(free_port()), "--bind", "127.0.0.1", "--save", "", "--set-proc-title", "yes"],
                      implementation="redis")
    rec = process.spawn(spec, state / "cache", state / "cache" / "log", state / "cache" / "pid")
    rec.remove()  # as if `up` had died before writing it
    try:
        assert wait_until(lambda: b"DEVSTACK_OWNER" not in Path(f"/proc/{rec.pid}/environ").read_bytes()), \
            "redis kept its environment: this test no longer shows the case"
        assert [(m.pid, m.service) for m in process.marked_processes(state)] == [(rec.pid, "cache")]
        assert process.stop_project(state, timeout=5) == []
    finally:
        process.stop_groups([(rec, signal.SIGKILL)], timeout=5)


def test_the_fork_helper_dies_with_its_up_and_never_serves_a_queued_request(tmp_path):
    """The bug: `up` killed while the helper still imported, a request queued in
    the pipe, the helper forked it afterwards: a server no pid file names."""
    state = tmp_path / ".devstack"
    (tmp_path / "flags.json").write_text("{}")
    request = {"module": "devstack.stubs.flags", "args": ["--port", str(free_port()), "--config", str(tmp_path / "flags.json")],
               "env": dict(os.environ), "cwd": str(tmp_path), "log": str(tmp_path / "flags.log")}
    up = textwrap.dedent(f"""
        import json, os, signal, sys
        from devstack.runtime import forkserver
        helper = forkserver.ForkServer(forkserver.helper_env({str(state)!r}))
        helper.proc.stdin.write(json.dumps({request!r}) + "\\n")
        helper.proc.stdin.flush()
        print(helper.proc.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", up], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    helper = int(result.stdout.split()[0])
    try:
        assert wait_until(lambda: process._proc_start_time(helper) is None), "the helper outlived its up"
        time.sleep(1.0)  # what it would have forked had time to appear
        assert process.marked_processes(state) == []
        assert not (tmp_path / "flags.log").exists()
    finally:
        process.stop_project(state, timeout=5)


def test_a_pid_file_that_cannot_be_written_stops_the_child(tmp_path, monkeypatch):
    state = tmp_path / ".devstack"

    def full_disk(self):
        raise NotWritable(self.path, 28, f"cannot write {self.path}: no space left on the device", "free some space")

    monkeypatch.setattr(PidFile, "write", full_disk)
    with pytest.raises(NotWritable, match="no space left"):
        process.spawn(sleeper(), state / "svc", state / "svc" / "log", state / "svc" / "pid")
    assert process.marked_processes(state) == []


def test_a_server_lock_file_naming_a_live_process(tmp_path):
    state = tmp_path / ".devstack"
    lock = tmp_path / "server.pid"
    # A server of ours that an interrupted `up` never recorded: stopped, the file goes.
    ours = process.spawn(sleeper(), state / "svc", state / "svc" / "log", state / "svc" / "pid")
    assert wait_until(lambda: process._environ(ours.pid))  # exec'd (a server writes its lock file after that)
    lock.write_text(f"{ours.pid}\n/some/data\n")
    process.clear_stale_pidfiles([lock], sys.executable, process.owner_mark(state))
    assert not lock.exists() and not ours.leader_alive()
    # The same program, not ours: one error naming the file and the process.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(f"{other.pid}\n")
        with pytest.raises(process.SpawnError, match=rf"server.pid says process {other.pid} .* still running"):
            process.clear_stale_pidfiles([lock], sys.executable, process.owner_mark(state))
        assert lock.exists()
        # Another program altogether: the PID was reused, the file is stale.
        process.clear_stale_pidfiles([lock], "/usr/lib/postgresql/15/bin/postgres", process.owner_mark(state))
        assert not lock.exists()
    finally:
        other.kill()
        other.wait()


def test_pid_files_record_the_stop_signal(tmp_path):
    state = tmp_path / ".devstack"
    rec = process.spawn(sleeper(stop_signal=signal.SIGINT), state / "svc", state / "svc" / "log", state / "svc" / "pid")
    try:
        assert json.loads((state / "svc" / "pid").read_text())["stop_signal"] == signal.SIGINT
        assert PidFile.read(state / "svc" / "pid").stop_signal == signal.SIGINT
        for path in (state / "svc" / "pid", state / "svc" / "log"):
            assert path.stat().st_mode & 0o777 == 0o600, path
        assert (state / "svc").stat().st_mode & 0o777 == 0o700
    finally:
        assert process.stop_groups([(rec, signal.SIGINT)], timeout=5) == []


# -- state writes on a read-only or full file system ----------------------------------------


def test_state_writes_on_a_read_only_dir_name_the_path_and_keep_the_old_file(tmp_path, mounts):
    from devstack.fsutil import check_writable, write_private
    from devstack.lock import project_lock

    state = tmp_path / ".devstack"
    write_private(state / "secrets.json", "old\n")
    with project_lock(state):
        pass  # the lock file exists from here on
    mounts("--bind", str(state), target=state)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(state)], check=True)
    with pytest.raises(NotWritable) as error:
        write_private(state / "secrets.json", "new\n")
    assert error.value.message == f"cannot write {state / 'secrets.json'}: the file system is read-only"
    assert "remount" in error.value.hint and "`devstack down` still stops" in error.value.hint
    assert (state / "secrets.json").read_text() == "old\n" and sorted(p.name for p in state.iterdir()) == ["lock", "secrets.json"]
    with pytest.raises(NotWritable, match="read-only"):
        check_writable(state)
    with project_lock(state):  # an existing lock still locks: `down` works
        pass
    with pytest.raises(NotWritable, match="state.lock: the file system is read-only"):
        with project_lock(state, name="state.lock"):
            pass
    with project_lock(state, name="state.lock", read_only_ok=True):  # `down`: no lock to be had, none needed
        pass


def test_state_writes_on_a_full_disk_name_the_path(tmp_path, mounts):
    from devstack.fsutil import check_writable, write_private

    state = tmp_path / ".devstack"
    state.mkdir()
    mounts("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=state)
    write_private(state / "ports.json", "{}\n")
    fd = os.open(state / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 1):
            with pytest.raises(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(NotWritable) as error:
        check_writable(state)
    assert error.value.message == f"cannot write {state}: no space left on the device"
    assert f"df -h {state}" in error.value.hint
    with pytest.raises(NotWritable, match="ports.json: no space left"):
        write_private(state / "ports.json", "{" + '"x": 1,' * 100000 + "}\n")
    assert (state / "ports.json").read_text() == "{}\n"
    with pytest.raises(NotWritable, match=r"svc/log: no space left"):
        process.spawn(sleeper(), state / "svc", state / "svc" / "log", state / "svc" / "pid")
    assert process.marked_processes(state) == []
    assert Path(state / "filler").exists()
