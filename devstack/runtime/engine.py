"""Is a Docker engine reachable? Asked cheaply, without importing python-on-whales."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess


def engine_answers(context: str | None = None, timeout: float = 3.0) -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    if not context and (not host or host.startswith("unix://")):
        path = host[len("unix://"):] if host else "/var/run/docker.sock"
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
    if not shutil.which("docker"):
        return False
    argv = ["docker"] + (["--context", context] if context else []) + ["version", "--format", "{{.Server.Version}}"]
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout + 5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
