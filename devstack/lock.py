"""Project locks (flock): one `up`/`down` at a time (.devstack/lock), and a short
one around generating and saving credentials and ports (.devstack/state.lock)."""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from pathlib import Path

from devstack.errors import UserError


def make_state_dir(state_dir: Path) -> None:
    """.devstack/ (0700: it holds generated passwords)."""
    from devstack.fsutil import private_dir

    private_dir(state_dir)


@contextmanager
def project_lock(state_dir: Path, wait: float = 120.0, on_wait=None, name: str = "lock"):
    make_state_dir(state_dir)
    with open(state_dir / name, "w") as handle:
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


def state_lock(state_dir: Path):
    """Held while credentials and ports are generated and saved: readers such as
    `devstack env` never see a set the servers were not started with."""
    return project_lock(state_dir, wait=60.0, name="state.lock")
