"""Which Docker engine, and does it answer? Asked cheaply, without importing python-on-whales.

The engine is resolved the way the docker CLI does it: `--context` first, then
DOCKER_HOST, then DOCKER_CONTEXT, then the config's current context, else the
local socket. Context endpoints are read from the CLI's context store
($DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json), no CLI call.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

LOCAL_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Endpoint:
    host: str  # unix:///var/run/docker.sock | tcp://10.0.0.5:2376 | ssh://me@box
    context: str | None = None  # a named (non-default) context in use
    source: str = "default"  # --context | DOCKER_HOST | DOCKER_CONTEXT | current context | default

    @property
    def hostname(self) -> str:
        """The engine's machine as seen from here ('' for local sockets)."""
        parts = urllib.parse.urlsplit(self.host)
        if parts.scheme in ("tcp", "ssh", "http", "https"):
            return parts.hostname or ""
        return ""

    @property
    def remote(self) -> bool:
        """Published ports live on another machine (not this one's loopback)."""
        name = self.hostname
        if not name:
            return False
        if name == "localhost":
            return False
        try:
            return not ipaddress.ip_address(name).is_loopback
        except ValueError:
            return True  # a host name other than localhost

    @property
    def public_host(self) -> str:
        return self.hostname if self.remote else "127.0.0.1"

    def describe(self) -> str:
        """e.g. `docker engine unix:///var/run/docker.sock (local)`, `docker context foo (tcp://10.0.0.5:2376)`."""
        where = "remote" if self.remote else "local"
        if self.context:
            return f"docker context {self.context} ({self.host}, {where})"
        via = " via DOCKER_HOST" if self.source == "DOCKER_HOST" else ""
        return f"docker engine {self.host} ({where}{via})"


class ContextNotFound(Exception):
    pass


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


# Where the docker CLI looks for plugins after the config dir's own (cli/cli-plugins/manager).
SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                      "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def compose_plugin() -> Path | None:
    """The compose v2 plugin binary `docker compose` would run, when it can be told
    for sure (no extra plugin dirs configured)."""
    try:
        if "cliPluginsExtraDirs" in json.loads((config_dir() / "config.json").read_text()):
            return None
    except (OSError, ValueError):
        pass
    for directory in (config_dir() / "cli-plugins", *map(Path, SYSTEM_PLUGIN_DIRS)):
        candidate = directory / "docker-compose"
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def current_context() -> str | None:
    try:
        return json.loads((config_dir() / "config.json").read_text()).get("currentContext") or None
    except (OSError, ValueError):
        return None


def context_host(name: str) -> str:
    """The docker endpoint of a context, from the CLI's context store."""
    if name == "default":
        return os.environ.get("DOCKER_HOST") or LOCAL_SOCKET
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        raise ContextNotFound(name) from None
    host = ((data.get("Endpoints") or {}).get("docker") or {}).get("Host")
    if not host:
        raise ContextNotFound(name)
    return host


def resolve(context: str | None = None) -> Endpoint:
    """The engine the docker CLI would talk to with these settings."""
    if context:
        return Endpoint(context_host(context), None if context == "default" else context, "--context")
    if os.environ.get("DOCKER_HOST"):
        return Endpoint(os.environ["DOCKER_HOST"], None, "DOCKER_HOST")
    for name, source in ((os.environ.get("DOCKER_CONTEXT"), "DOCKER_CONTEXT"), (current_context(), "current context")):
        if name and name != "default":
            return Endpoint(context_host(name), name, source)
        if name == "default":
            break
    return Endpoint(LOCAL_SOCKET, None, "default")


def ping_unix(path: str, timeout: float = 3.0) -> bool:
    if not os.path.exists(path):
        return False
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in sock.recv(1024)
    except OSError:
        return False


def api_get(endpoint: Endpoint, path: str, timeout: float = 5.0):
    """GET a Docker Engine API path over a local unix socket; the decoded JSON body.

    A read-only shortcut for the one query on `up`'s critical path (which
    containers run), taken before python-on-whales is even imported. Raises
    OSError when the engine is not a local socket or does not answer 200.
    """
    if not endpoint.host.startswith("unix://"):
        raise OSError(f"not a local socket: {endpoint.host}")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(endpoint.host[len("unix://"):])
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise OSError(f"engine answered {head[:80]!r}")
    return json.loads(body)


class StartEvents:
    """The engine's `start` events of one compose project's containers, as they happen.

    Subscribed (response headers read) before compose runs, so no start is
    missed; each service name is handed to on_start from a daemon thread until
    close(). Local sockets only: OSError otherwise, or when the engine refuses.
    """

    def __init__(self, endpoint: Endpoint, project: str, on_start, timeout: float = 1.0):
        import threading
        import time

        if not endpoint.host.startswith("unix://"):
            raise OSError(f"not a local socket: {endpoint.host}")
        filters = json.dumps({"type": ["container"], "event": ["start"], "label": [f"com.docker.compose.project={project}"]})
        path = f"/events?since={time.time():.6f}&filters={urllib.parse.quote(filters)}"
        self._sock = socket.socket(socket.AF_UNIX)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(endpoint.host[len("unix://"):])
            self._sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            buffer = b""
            while b"\r\n\r\n" not in buffer:  # the engine sends its headers at once, events later
                chunk = self._sock.recv(4096)
                if not chunk:
                    raise OSError("engine closed the events stream")
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            if head.split(b"\r\n", 1)[0].split()[1:2] != [b"200"]:
                raise OSError(f"engine answered {head[:80]!r}")
            self._sock.settimeout(None)
        except (OSError, IndexError) as exc:
            self._sock.close()
            raise OSError(str(exc)) from None
        self._thread = threading.Thread(target=self._read, args=(rest, on_start), daemon=True)
        self._thread.start()

    def _read(self, buffer: bytes, on_start) -> None:
        try:
            while True:
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    try:
                        attributes = json.loads(line)["Actor"]["Attributes"]
                    except (ValueError, KeyError, TypeError):
                        continue
                    on_start(attributes.get("com.docker.compose.service", ""))
                chunk = self._sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
        except OSError:
            return  # closed

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


def engine_answers(context: str | None = None, timeout: float = 3.0) -> bool:
    try:
        endpoint = resolve(context)
    except ContextNotFound:
        return False
    if endpoint.host.startswith("unix://") and not context:
        return ping_unix(endpoint.host[len("unix://"):], timeout)
    if not shutil.which("docker"):
        return False
    argv = ["docker"] + (["--context", context] if context else []) + ["version", "--format", "{{.Server.Version}}"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout + 5, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
