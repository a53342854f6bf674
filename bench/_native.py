"""Native stacks for the benches: a project dir, its CLI, pinned ports, its processes.

On a shared machine other tools keep taking ports between planning and
starting, so manifests here pin every service's main port to a free one below
the plan's scan range, and a run that loses a port race is retried.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "railgun"
_next_port = [15000]


class Project:
    def __init__(self, root: Path, env: dict):
        self.root, self.env = root, env

    def cli(self, *args, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "devstack", *args], check=False, cwd=self.root, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise SystemExit(f"devstack {' '.join(args)} failed in {self.root}:\n{result.stderr}")
        return result

    def timed_up(self, *extra: str, tries: int = 3) -> float:
        """Wall time of one `up --no-seed` (as a user sees it). A run that lost a
        port race with another program is discarded and retried."""
        for attempt in range(tries):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "devstack", "up", "--no-seed", *extra], check=False, cwd=self.root,
                                    env=self.env, capture_output=True, text=True, timeout=300)
            seconds = time.perf_counter() - start
            if result.returncode == 0:
                return seconds
            if attempt == tries - 1 or "taken by another program" not in result.stderr:
                raise SystemExit(f"devstack up failed in {self.root}:\n{result.stderr}")
        raise AssertionError("unreachable")

    def down(self, volumes: bool = False) -> None:
        subprocess.run([sys.executable, "-m", "devstack", "down", *(["--volumes"] if volumes else [])], check=False,
                       cwd=self.root, env=self.env, capture_output=True, timeout=300)


def pin_ports(services: dict) -> dict:
    """Each service's main port set to a free one from 15000 up (the manifest's own
    ports are left to the plan). `mode: off` bodies are kept as they are."""
    from devstack.ports import is_free
    from devstack.services import catalog

    for name, body in services.items():
        body = services[name] = dict(body or {})
        if body.get("mode") in ("off", False):  # YAML 1.1 reads a bare off as false
            body["mode"] = "off"
            continue
        kind = catalog.get(body.get("kind", name))
        first, port = next(iter(kind.ports.items()))
        while not is_free(_next_port[0], port.protocol):
            _next_port[0] += 1
        body[first] = _next_port[0]
        _next_port[0] += 1
    return services


def example_manifest() -> dict:
    manifest = yaml.safe_load((EXAMPLE / "devstack.yaml").read_text())
    pin_ports(manifest["services"])
    return manifest


def railgun_project(base: Path, env: dict, name: str = "railgun") -> Project:
    """A copy of the Rail Gun example (fixtures and all) with pinned ports."""
    import shutil

    root = base / name
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".devstack", ".env"))
    (root / "devstack.yaml").write_text(yaml.safe_dump(example_manifest(), sort_keys=False))
    return Project(root, env)


# -- processes ---------------------------------------------------------------------------------


def service_processes(project: Path) -> dict[str, list[int]]:
    """{service: pids}: each service's leader (its pid file) and every process of its session."""
    import json
    import os

    leaders = {}
    for pid_file in sorted((project / ".devstack").glob("*/pid")):
        try:
            leaders[pid_file.parent.name] = int(json.loads(pid_file.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            continue
    by_session: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            by_session.setdefault(int(fields[3]), []).append(int(entry))  # field 6: session id
    return {name: sorted(by_session.get(pid, [pid])) for name, pid in leaders.items()}


def pss_kib(pid: int) -> int | None:
    """Proportional set size (KiB): private pages plus each shared page divided by its sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def command_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return "?"
