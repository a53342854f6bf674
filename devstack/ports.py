"""Host ports: stable per project, never shared between projects.

Each project keeps its assignments in .devstack/ports.json; a per-user registry
(~/.local/state/devstack/ports.json, or $DEVSTACK_HOME) records which project
holds which port, so two stacks never pick the same one.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.fsutil import read_json, write_private

SCAN_START, SCAN_END = 20000, 32000  # below Linux's ephemeral range (32768+)


def home() -> Path:
    if os.environ.get("DEVSTACK_HOME"):
        return Path(os.environ["DEVSTACK_HOME"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "devstack"


def is_free(port: int, protocol: str = "tcp", host: str = "127.0.0.1") -> bool:
    return bind_error(port, protocol, host) is None


def bind_error(port: int, protocol: str = "tcp", host: str = "127.0.0.1") -> OSError | None:
    """Why a server could not bind the port now (None: it could); `.protocol` says which failed."""
    import socket  # here: `devstack env` on a planned stack binds nothing (~5 ms of import)

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
            except OSError as exc:
                exc.protocol = "tcp" if kind == socket.SOCK_STREAM else "udp"
                return exc
    return None


def range_free(start: int, count: int, protocol: str) -> bool:
    return all(is_free(p, protocol) for p in range(start, start + count))


@dataclass
class PortMove:
    """A kept port another program holds now: the service moves to a new one."""

    key: str  # <service>.<port option>
    old: int
    new: int
    protocol: str = "tcp"
    owner: str = ""  # another devstack project that holds the old one; "" means another program (the runtime says which)


class PortBook:
    """persist=False (read-only commands): reads the project's ports and the
    registry, writes neither; new assignments stay in memory."""

    def __init__(self, state_dir: Path, root: Path, persist: bool = True):
        self.path = state_dir / "ports.json"
        # Who holds ports in the registry: the project root for its own stack,
        # the state dir for another stack of it (a test session's), so the two
        # never share a port, and a session's entries go when its dir does.
        self.isolated = Path(state_dir) != Path(root) / ".devstack"
        self.root = str(state_dir) if self.isolated else str(root)
        self.persist = persist
        self.local: dict[str, int] = read_json(self.path)  # missing or torn: ports are re-chosen (the registry keeps them unique)
        self.registry_path = home() / "ports.json"
        self.changed = False
        self.moved: list[PortMove] = []
        self.pinned_taken: list[tuple[str, int]] = []  # (key, port): a `port:` set in the manifest, held by another program

    @contextmanager
    def _registry(self):
        if not self.persist:
            yield _live_projects(read_json(self.registry_path))
            return
        self.registry_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.registry_path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            before = read_json(self.registry_path)
            registry = _live_projects(before)
            yield registry
            if registry != before:
                write_private(self.registry_path, json.dumps(registry, indent=1, sort_keys=True) + "\n")

    def assign(self, requests: list[tuple[str, int, int, str, int | None]], recheck: set[str] | None = None,
               move: set[str] | None = None) -> dict[str, int]:
        """requests: (key, well_known, count, protocol, fixed). Returns key -> host port.

        A kept port is re-checked for freeness only for keys in `recheck`
        (services about to start); a running service of ours holds its port.
        A port the manifest sets (`fixed`) is never moved: when another program
        holds it, the key is listed in `pinned_taken`. Services in `move` just
        failed to bind their ports: those move even if they look free now.
        """
        result: dict[str, int] = {}
        with self._registry() as registry:
            others = {int(p): owner for p, owner in registry.items() if owner["root"] != self.root}
            mine = {int(p) for p, owner in registry.items() if owner["root"] == self.root}
            used: set[int] = set()
            for key, well_known, count, protocol, fixed in requests:
                if fixed:
                    port = fixed
                    if _rechecked(key, recheck) and not range_free(fixed, count, protocol):
                        self.pinned_taken.append((key, fixed))
                else:
                    port = self._choose(key, well_known, count, protocol, set(others) | used, recheck, others,
                                        forced=bool(move) and key.split(".")[0] in move)
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
        if self.changed and self.persist:
            write_private(self.path, json.dumps(self.local, indent=1, sort_keys=True) + "\n")
        return result

    def _choose(self, key, well_known, count, protocol, avoid, recheck, others, forced: bool = False) -> int:
        kept = self.local.get(key)
        owner = ""
        if forced and kept:  # its start failed on this port: somebody binds it now and then
            avoid = avoid | set(range(kept, kept + count))
        elif kept:
            clash = set(range(kept, kept + count)) & avoid
            if not clash:
                if not _rechecked(key, recheck) or range_free(kept, count, protocol):
                    return kept
            else:
                holder = others.get(min(clash))
                owner = f"the devstack project in {holder['root']}" if holder else "another service of this project"
        import hashlib

        span = SCAN_END - SCAN_START
        offset = int(hashlib.sha256(f"{self.root}:{key}".encode()).hexdigest(), 16) % span
        # Lazily: the first candidate is nearly always free, and a list of all
        # 12,000 cost each unsaved plan (status of a new project) ~2 ms per port.
        scan = (SCAN_START + (offset + i) % span for i in range(0, span, max(count, 1)))
        # A test session's stack leaves the well-known ports (5432, 9000...) to
        # developers' stacks, and meets fewer other programs that want them.
        first = [well_known] if well_known and not self.isolated and not forced else []
        for start in itertools.chain(first, scan):
            block = set(range(start, start + count))
            if block & avoid or start + count > 65535:
                continue
            if range_free(start, count, protocol):
                if kept:
                    self.moved.append(PortMove(key, kept, start, protocol, owner))
                return start
        raise RuntimeError("no free port found")  # practically unreachable

    def release(self):
        """Forget this project's ports (down --volumes)."""
        with self._registry() as registry:
            for port in [p for p, owner in registry.items() if owner["root"] == self.root]:
                registry.pop(port)
        if self.path.exists():
            self.path.unlink()


def _rechecked(key: str, recheck: set[str] | None) -> bool:
    return recheck is not None and key.split(".")[0] in recheck


def _live_projects(registry: dict) -> dict:
    """Forget projects that no longer exist on disk."""
    return {p: owner for p, owner in registry.items()
            if isinstance(owner, dict) and isinstance(owner.get("root"), str) and Path(owner["root"]).exists()}


def port_holder(port: int, protocol: str = "tcp") -> str:
    """Which process listens on a port of this machine: 'PID 123 (redis-server *:6379)',
    as far as this user can see (runtimes add what they know, e.g. containers)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - a dependency; kept soft for odd installs
        return "another program"
    kinds = {"tcp": ("tcp",), "udp": ("udp",), "both": ("tcp", "udp")}[protocol]
    for kind in kinds:
        try:
            connections = psutil.net_connections(kind=kind)
        except (psutil.Error, OSError):
            continue
        for conn in connections:
            if not conn.laddr or conn.laddr.port != port or (kind == "tcp" and conn.status != psutil.CONN_LISTEN):
                continue
            if not conn.pid:
                return "another program (its PID is not visible to this user)"
            try:
                proc = psutil.Process(conn.pid)
                command = " ".join(" ".join(proc.cmdline()).split()) or proc.name()
            except psutil.Error:
                command = "?"
            if len(command) > 100:
                command = command[:97] + "..."
            return f"PID {conn.pid} ({command})"
    return "another program"
