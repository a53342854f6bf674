"""Wait until services answer their real protocol; shared by both runtimes."""

from __future__ import annotations

import time
from typing import Callable

from devstack.background import Background
from devstack.errors import ServiceFailed
from devstack.errors import NotReady

POLL = 0.025  # a refused connect (the port gate) costs microseconds


def wait_one(svc, plan, timeout: float, alive: Callable[[], str | None] | None = None,
             gate: Callable[[], None] | None = None) -> float:
    """Poll svc.kind.ready until it passes; returns seconds waited.

    alive(): None while the process/container lives, else why it is gone
    (so a crash fails at once instead of after the timeout).
    gate(): blocks until the service may be probed at all (e.g. its container started).
    """
    if gate is not None:
        gate()
    start = time.monotonic()
    last = "no answer yet"
    while True:
        try:
            svc.kind.ready(svc, plan)
            return time.monotonic() - start
        except NotReady as exc:
            last = str(exc)
        if alive is not None:
            gone = alive()
            if gone:
                raise ServiceFailed(f"{svc.name} ({svc.kind.name}) exited before it was ready: {gone}")
        if time.monotonic() - start > timeout:
            raise ServiceFailed(f"{svc.name} ({svc.kind.name}) not ready after {timeout:.0f}s: {last}")
        time.sleep(POLL)


def wait_all(services, plan, progress, timeout: float = 60.0, alive_checks: dict | None = None,
             gates: dict | None = None) -> dict[str, float]:
    """Wait for all in parallel; the first failure is raised after the others finish or time out."""
    alive_checks, gates = alive_checks or {}, gates or {}
    if not services:
        return {}

    def wait_and_say(svc):
        waited = wait_one(svc, plan, timeout, alive_checks.get(svc.name), gates.get(svc.name))
        progress(f"  {svc.name}: ready ({waited:.1f}s)")  # as it happens, not in manifest order
        return waited

    runs = {s.name: Background(lambda s=s: wait_and_say(s)) for s in services}
    waited, failure = {}, None
    for name, run in runs.items():
        try:
            waited[name] = run.result()
        except ServiceFailed as exc:
            failure = failure or exc
    if failure:
        raise failure
    return waited
