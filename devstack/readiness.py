"""Wait until services answer their real protocol; shared by both runtimes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from devstack.errors import ServiceFailed
from devstack.services.base import NotReady

POLL = 0.025  # a refused connect (the port gate) costs microseconds


def wait_one(svc, plan, timeout: float, alive: Callable[[], str | None] | None = None) -> float:
    """Poll svc.kind.ready until it passes; returns seconds waited.

    alive(): None while the process/container lives, else why it is gone
    (so a crash fails at once instead of after the timeout).
    """
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


def wait_all(services, plan, progress, timeout: float = 60.0, alive_checks: dict | None = None) -> dict[str, float]:
    """Wait for all in parallel; the first failure is raised after the others finish or time out."""
    alive_checks = alive_checks or {}
    if not services:
        return {}
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = {s.name: pool.submit(wait_one, s, plan, timeout, alive_checks.get(s.name)) for s in services}
        waited, failure = {}, None
        for name, future in futures.items():
            try:
                waited[name] = future.result()
                progress(f"  {name}: ready ({waited[name]:.1f}s)")
            except ServiceFailed as exc:
                failure = failure or exc
    if failure:
        raise failure
    return waited
