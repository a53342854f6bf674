"""What every doctor check reads: the project, its plan (built writing nothing),
the runtime, the services in scope, and the native specs (built once, shared)."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor


class Context:
    def __init__(self, project, plan, rt, names: list[str] | None = None):
        self.project, self.plan, self.rt = project, plan, rt
        self.whole = not names  # no SERVICE filter: project-wide checks (tools, .env extras) run too
        self.names = list(names) if names else list(plan.services)
        # The plan limited to the services in scope (runtimes' status() walks plan.services).
        self.scoped = plan if self.whole else dataclasses.replace(plan, services={n: plan.services[n] for n in self.names})
        self._lock = threading.Lock()
        self._specs: dict[str, object] = {}
        self._spec_locks: dict[str, threading.Lock] = {}
        self._running: set[str] | None = None

    @property
    def services(self):
        return [self.plan.services[n] for n in self.names]

    def runs(self):
        """Services in scope that something of ours runs for (the real thing or a stand-in)."""
        return [s for s in self.services if s.runs]

    def native(self):
        """Services in scope that run as local processes under this runtime."""
        if self.rt.name == "native":
            return self.runs()
        return [s for s in self.services if s.on_host]

    @property
    def running(self) -> set[str]:
        with self._lock:
            if self._running is None:
                try:
                    self._running = set(self.rt.running_services(self.scoped))
                except Exception:  # noqa: BLE001 - an engine that fails here is reported by the runtime check
                    self._running = set()
            return self._running

    def spec(self, svc):
        """The kind's NativeSpec for a service, or the exception building it raised."""
        with self._lock:
            lock = self._spec_locks.setdefault(svc.name, threading.Lock())
        with lock:
            if svc.name not in self._specs:
                from devstack.runtime.host import native_spec

                try:
                    self._specs[svc.name] = native_spec(svc, self.plan)
                except Exception as exc:  # noqa: BLE001 - reported by the binary check
                    self._specs[svc.name] = exc
            return self._specs[svc.name]


def parallel(function, items) -> list:
    """function(item) for every item, in threads (the checks wait on processes and sockets)."""
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(function, items))
