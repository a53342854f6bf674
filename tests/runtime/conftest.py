"""Native runtime tests: real processes, each project in a tmp dir.

Every stack a test brings up is taken down with `down --volumes` at the end,
and the teardown fails if any process of it is still alive or its data is
left behind.
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

import pytest

from devstack.runtime import process

REPO = Path(__file__).resolve().parents[2]

needs_servers = pytest.mark.skipif(
    not (shutil.which("redis-server") and shutil.which("turnserver") and list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))),
    reason="needs postgresql, redis-server and coturn installed (apt-get install postgresql redis-server coturn)",
)


class Stack:
    """One project dir with a manifest, driven through the CLI as a user would."""

    def __init__(self, root: Path, home: Path):
        self.root = root
        self.home = home
        self.seen: dict[int, str] = {}  # pgid -> service, every process group we saw
        self.family: dict[int, str] = {}  # pid -> start time of every process of the stack we saw

    @property
    def state(self) -> Path:
        return self.root / ".devstack"

    def env_vars(self, extra: dict | None = None) -> dict:
        env = {**os.environ, "DEVSTACK_HOME": str(self.home), "DEVSTACK_RUNTIME": "native"}
        env.pop("DOCKER_HOST", None)
        env.update(extra or {})
        return env

    def cli(self, *args, check: bool = True, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "devstack", *args], check=False, cwd=self.root, env=self.env_vars(env),
                                capture_output=True, text=True, timeout=timeout)
        self.remember()
        if check and result.returncode != 0:
            raise AssertionError(f"devstack {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def popen(self, *args, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "devstack", *args], cwd=self.root, env=self.env_vars(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def up(self, *args, **kwargs):
        return self.cli("up", "--no-seed", *args, **kwargs)

    def outputs(self) -> dict:
        """Connection values of every service, from the same plan as .env."""
        code = ("import json,sys\n"
                "from devstack import manifest, plan\n"
                "p = plan.build(manifest.load(manifest.find()))\n"
                "json.dump({n: dict(s.outputs) for n, s in p.services.items()}, sys.stdout, default=str)\n")
        result = subprocess.run([sys.executable, "-c", code], cwd=self.root, env=self.env_vars(), capture_output=True, text=True, check=True)
        return json.loads(result.stdout)

    def status(self) -> dict[str, dict]:
        data = json.loads(self.cli("status", "--json", check=False).stdout)  # exit 1 while not all ready
        return {s["name"]: s for s in data["services"]}

    def pids(self) -> dict[str, int]:
        found = {}
        for path in self.state.glob("*/pid"):
            try:
                found[path.parent.name] = json.loads(path.read_text())["pid"]
            except (ValueError, KeyError, OSError):
                continue
        return found

    def remember(self) -> None:
        for name, pid in self.pids().items():
            self.seen.setdefault(pid, name)
            self.family.update(process.members(pid))

    def alive_groups(self) -> list[str]:
        return [f"{name} (pgid {pgid})" for pgid, name in self.seen.items() if process.group_alive(pgid)]

    def data_root_dirs(self) -> list[Path]:
        key_prefix = None
        base = Path(os.environ.get(process.DATA_ROOT_ENV) or process.DEFAULT_DATA_ROOT)
        for link in self.state.glob("*/data"):
            if link.is_symlink():
                key_prefix = link.resolve().parent
        return [key_prefix] if key_prefix and key_prefix.exists() and base in key_prefix.parents else []

    def assert_no_process_left(self) -> None:
        deadline = time.monotonic() + 2
        while self.alive_groups() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.alive_groups(), f"processes left after down: {self.alive_groups()}"
        while process.still_running(self.family) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process.still_running(self.family), f"processes left after down: {process.still_running(self.family)}"
        assert not processes_mentioning(self.root), "a process still refers to the project dir"

    def kill_everything(self) -> None:
        for pgid in self.seen:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in process.still_running(self.family):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def processes_mentioning(path: Path) -> list[str]:
    """Live processes whose command line names `path` (a leak check beyond our pid files)."""
    needle = str(path)
    hits = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state not in ("Z", "X") and "pytest" not in cmdline:
            hits.append(f"{entry}: {cmdline[:200]}")
    return hits


def make_stack(root: Path, home: Path, manifest: str, files: dict | None = None) -> Stack:
    root.mkdir(parents=True, exist_ok=True)
    (root / "devstack.yaml").write_text(manifest)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return Stack(root, home)


def finish(stack: Stack) -> None:
    """down --volumes; then nothing of the stack may be left (processes, data)."""
    try:
        outside = stack.data_root_dirs()  # e.g. postgres data under /var/lib/devstack when root
        result = stack.cli("down", "--volumes", check=False)
        assert result.returncode == 0, result.stderr
        stack.assert_no_process_left()
        left = [p for p in outside if p.exists()]
        assert not left, f"data left behind: {left}"
    finally:
        stack.kill_everything()


@pytest.fixture
def native_stack(tmp_path, devstack_home):
    """native_stack(manifest_text, files={...}) -> Stack; always torn down with checks."""
    made: list[Stack] = []

    def make(manifest: str, files: dict | None = None, name: str = "app") -> Stack:
        stack = make_stack(tmp_path / name, devstack_home, manifest, files)
        made.append(stack)
        return stack

    yield make
    errors = []
    for stack in made:
        try:
            finish(stack)
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


@pytest.fixture
def mounts():
    """mount(args..., target): mounts unmounted (lazily if busy) at teardown, newest first."""
    made: list[Path] = []

    def mount(*args: str, target: Path) -> None:
        subprocess.run(["mount", *args, str(target)], check=True, capture_output=True)
        made.append(target)

    yield mount
    for target in reversed(made):
        if subprocess.run(["umount", str(target)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)
