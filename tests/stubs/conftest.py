"""Run devstack's stand-in servers as real subprocesses for the tests in this directory."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stub:
    """One `python -m devstack.stubs.<name>` process; stderr goes to a log file."""

    def __init__(self, name: str, args: list[str], env: dict | None, log_path: Path):
        self.name, self.log_path = name, log_path
        full_env = {**os.environ, **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO)] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else []))
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", f"devstack.stubs.{name}", *args],
                                     cwd=REPO, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_http(self, url: str, headers: dict | None = None, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log}")
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                            timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} not ready at {url} after {timeout}s:\n{self.log}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Signal by PID and wait; returns (exit code, seconds to exit). Kills if it hangs."""
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.elapsed = time.monotonic() - t0
        self._log.close()
        return self.proc.returncode, getattr(self, "elapsed", 0.0)


@pytest.fixture
def start_stub(tmp_path):
    """start_stub(name, *args, env=..., ready=url, ready_headers=...) -> running Stub.

    Every process started is stopped with SIGTERM at teardown, which asserts it
    exited with code 0 within 1 s (stopped stubs are just reaped)."""
    started: list[Stub] = []

    def start(name, *args, env=None, ready=None, ready_headers=None):
        stub = Stub(name, [str(a) for a in args], env, tmp_path / f"{name}-{len(started)}.log")
        started.append(stub)
        if ready:
            stub.wait_http(ready, ready_headers)
        return stub

    yield start
    failures = []
    for stub in reversed(started):
        already_stopped = stub.proc.poll() is not None
        code, elapsed = stub.stop()
        if not already_stopped and (code != 0 or elapsed > 1.0):
            failures.append(f"{stub.name}: exit {code} after {elapsed:.2f}s\n{stub.log}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def free_port():
    """free_port() -> a TCP port free on 127.0.0.1 right now."""
    return _free_port


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        import json
        return json.loads(self.body)


def _http(method: str, url: str, json=None, data: bytes | None = None,
          headers: dict | None = None) -> Response:
    """Plain urllib, as a minimal app would use; HTTP errors are returned, not raised."""
    import json as _json
    headers = dict(headers or {})
    if json is not None:
        data = _json.dumps(json).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


@pytest.fixture
def http():
    return _http
