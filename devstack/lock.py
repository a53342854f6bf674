"""One `up`/`down` of a project at a time: an flock on .devstack/lock."""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path

from devstack.errors import UserError


@contextmanager
def project_lock(state_dir: Path, wait: float = 120.0, on_wait=None):
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "lock", "w") as handle:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UserError("another devstack command is still working on this project", "wait for it, or check `devstack status`") from None
                if on_wait and not told:
                    on_wait("waiting for another devstack command on this project...")
                    told = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
