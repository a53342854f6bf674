"""Per-container probe gates: the engine's start events, the watch's gates, and readiness honouring them.

The events stream is read from a small fake engine on a unix socket (what the
request asks for, how the stream is parsed); tests/docker has the same against
a real engine.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from types import SimpleNamespace

import pytest

from devstack import readiness
from devstack.errors import ServiceFailed
from devstack.runtime import docker as dk
from devstack.runtime import engine
from devstack.services.base import NotReady


class FakeEngine:
    """Answers one GET on a unix socket with 200 and then the given event lines."""

    def __init__(self, path, lines: list[bytes], status: bytes = b"200 OK"):
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen()
        self.request = b""
        self.lines, self.status = lines, status
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.server.accept()
        with conn:
            while b"\r\n\r\n" not in self.request:
                self.request += conn.recv(4096)
            conn.sendall(b"HTTP/1.0 " + self.status + b"\r\nContent-Type: application/json\r\n\r\n")
            self.release.wait(5)  # events come after the subscriber has its headers
            for line in self.lines:
                conn.sendall(line)
            try:
                conn.recv(1)  # until the client closes
            except OSError:
                pass

    def close(self):
        self.server.close()


def event(service: str) -> bytes:
    return json.dumps({"Type": "container", "Action": "start",
                       "Actor": {"ID": "abc", "Attributes": {"com.docker.compose.service": service}}}).encode() + b"\n"


def test_start_events_asks_for_the_projects_starts_and_hands_over_service_names(tmp_path):
    fake = FakeEngine(tmp_path / "docker.sock", [event("db"), b"not json\n", event("cache")[:20], event("cache")[20:]])
    seen, done = [], threading.Event()

    def on_start(name):
        seen.append(name)
        if len(seen) == 2:
            done.set()

    stream = engine.StartEvents(engine.Endpoint(f"unix://{tmp_path / 'docker.sock'}"), "devstack-shop", on_start)
    fake.release.set()
    assert done.wait(5)
    stream.close()
    fake.close()
    assert seen == ["db", "cache"]  # a malformed line is skipped, a split one joined
    path = fake.request.split(b" ")[1].decode()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert urllib.parse.urlsplit(path).path == "/events"
    assert float(query["since"][0]) <= time.time()
    assert json.loads(query["filters"][0]) == {"type": ["container"], "event": ["start"],
                                               "label": ["com.docker.compose.project=devstack-shop"]}


def test_start_events_refuses_what_it_cannot_subscribe_to(tmp_path):
    with pytest.raises(OSError):
        engine.StartEvents(engine.Endpoint("tcp://10.0.0.5:2376"), "devstack-shop", lambda name: None)
    with pytest.raises(OSError):
        engine.StartEvents(engine.Endpoint(f"unix://{tmp_path / 'absent.sock'}"), "devstack-shop", lambda name: None)
    fake = FakeEngine(tmp_path / "docker.sock", [], status=b"500 Internal Server Error")
    with pytest.raises(OSError, match="500"):
        engine.StartEvents(engine.Endpoint(f"unix://{tmp_path / 'docker.sock'}"), "devstack-shop", lambda name: None)
    fake.release.set()
    fake.close()


def stack(*names: str):
    return SimpleNamespace(services={name: None for name in names}, compose_project="devstack-shop")


def opens_within(gate, seconds: float) -> bool:
    opened = threading.Event()
    threading.Thread(target=lambda: (gate(), opened.set()), daemon=True).start()
    return opened.wait(seconds)


def test_a_service_gate_opens_on_its_own_start_or_when_compose_is_done():
    watch = dk._Watch(rt=None, plan=stack("db", "cache", "mail"))
    watch.service_started("db")
    watch.service_started("someone-else")  # not a service of this plan: ignored
    assert opens_within(watch.gate("db"), 1)
    assert not opens_within(watch.gate("cache"), 0.1)
    watch.compose_finished()
    assert opens_within(watch.gate("cache"), 1) and opens_within(watch.gate("mail"), 1)


def test_a_cancelled_start_fails_the_gate():
    watch = dk._Watch(rt=None, plan=stack("db"))
    watch.cancel("image missing")
    with pytest.raises(ServiceFailed, match="db not started: image missing"):
        watch.gate("db")()


def test_readiness_probes_nothing_before_its_gate_opens():
    probed, gate_open = [], threading.Event()

    class Kind:
        name = "fake"

        def ready(self, svc, plan):
            probed.append((svc.name, gate_open.is_set() or svc.name == "free"))
            if not gate_open.is_set() and svc.name == "gated":
                raise NotReady("too early")

    services = [SimpleNamespace(name="gated", kind=Kind()), SimpleNamespace(name="free", kind=Kind())]
    lines = []
    threading.Timer(0.2, gate_open.set).start()
    waited = readiness.wait_all(services, None, lines.append, timeout=5, gates={"gated": gate_open.wait})
    assert set(waited) == {"gated", "free"}
    assert probed and all(ok for _, ok in probed)
    assert lines[0].startswith("  free: ready")  # said as it happened, not in manifest order
