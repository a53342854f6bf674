"""Host ports: stable per project, never shared between projects.

Each project keeps its assignments in .devstack/ports.json; a per-user registry
(~/.local/state/devstack/ports.json, or $DEVSTACK_HOME) records which project
holds which port, so two stacks never pick the same one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from devstack.fsutil import write_private

SCAN_START, SCAN_END = 20000, 32000  # below Linux's ephemeral range (32768+)


def home() -> Path:
    if os.environ.get("DEVSTACK_HOME"):
        return Path(os.environ["DEVSTACK_HOME"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "devstack"


def is_free(port: int, protocol: str = "tcp", host: str = "127.0.0.1") -> bool:
    kinds = {"tcp": [socket.SOCK_STREAM], "udp": [socket.SOCK_DGRAM], "both": [socket.SOCK_STREAM, socket.SOCK_DGRAM]}[protocol]
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM and os.name == "posix":
                # Like the servers themselves: connections of a stopped server
                # linger in TIME_WAIT, and must not move its port on restart.
                # (A port another socket listens on still fails to bind.)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def range_free(start: int, count: int, protocol: str) -> bool:
    return all(is_free(p, protocol) for p in range(start, start + count))


class PortBook:
    def __init__(self, state_dir: Path, root: Path):
        self.path = state_dir / "ports.json"
        self.root = str(root)
        self.local: dict[str, int] = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.registry_path = home() / "ports.json"
        self.changed = False

    @contextmanager
    def _registry(self):
        self.registry_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.registry_path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                registry = json.loads(self.registry_path.read_text()) if self.registry_path.exists() else {}
            except ValueError:
                registry = {}
            # Forget projects that no longer exist on disk.
            registry = {p: owner for p, owner in registry.items() if Path(owner["root"]).exists()}
            yield registry
            write_private(self.registry_path, json.dumps(registry, indent=1, sort_keys=True) + "\n", 0o644)

    def assign(self, requests: list[tuple[str, int, int, str, int | None]], recheck: set[str] | None = None) -> dict[str, int]:
        """requests: (key, well_known, count, protocol, fixed). Returns key -> host port.

        A kept port is re-checked for freeness only for keys in `recheck`
        (services about to start); a running service of ours holds its port.
        """
        result: dict[str, int] = {}
        with self._registry() as registry:
            taken_by_others = {int(p) for p, owner in registry.items() if owner["root"] != self.root}
            mine = {int(p) for p, owner in registry.items() if owner["root"] == self.root}
            used: set[int] = set()
            for key, well_known, count, protocol, fixed in requests:
                port = fixed or self._choose(key, well_known, count, protocol, taken_by_others | used, recheck)
                result[key] = port
                used.update(range(port, port + count))
                if self.local.get(key) != port:
                    self.local[key] = port
                    self.changed = True
            for port in mine - used:
                registry.pop(str(port), None)
            for key, port in result.items():
                count = next(r[2] for r in requests if r[0] == key)
                for p in range(port, port + count):
                    registry[str(p)] = {"root": self.root, "key": key}
        if self.changed:
            write_private(self.path, json.dumps(self.local, indent=1, sort_keys=True) + "\n", 0o644)
        return result

    def _choose(self, key, well_known, count, protocol, avoid, recheck) -> int:
        kept = self.local.get(key)
        if kept and not (set(range(kept, kept + count)) & avoid):
            if recheck is None or key.split(".")[0] not in recheck or range_free(kept, count, protocol):
                return kept
        candidates = [well_known] if well_known else []
        span = SCAN_END - SCAN_START
        offset = int(hashlib.sha256(f"{self.root}:{key}".encode()).hexdigest(), 16) % span
        candidates += [SCAN_START + (offset + i) % span for i in range(0, span, max(count, 1))]
        for start in candidates:
            block = set(range(start, start + count))
            if block & avoid or start + count > 65535:
                continue
            if range_free(start, count, protocol):
                return start
        raise RuntimeError("no free port found")  # practically unreachable

    def release(self):
        """Forget this project's ports (down --volumes)."""
        with self._registry() as registry:
            for port in [p for p, owner in registry.items() if owner["root"] == self.root]:
                registry.pop(port)
        if self.path.exists():
            self.path.unlink()
