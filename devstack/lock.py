"""Project locks (flock): one `up`/`down` at a time (.devstack/lock), and a short
one around generating and saving credentials and ports (.devstack/state.lock)."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from devstack.errors import UserError


def make_state_dir(state_dir: Path) -> None:
    """.devstack/ (0700: it holds generated passwords)."""
    from devstack.fsutil import private_dir

    private_dir(state_dir)


def _open_lock(path: Path, read_only_ok: bool):
    """The lock file, opened read-only (flock needs no write access, so an
    existing lock still works on a read-only file system). None when it cannot
    be made and read_only_ok: `down` still stops a stack it cannot write to."""
    from devstack.fsutil import is_state_error, not_writable

    try:
        make_state_dir(path.parent)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if read_only_ok and is_state_error(exc):
            return None
        raise not_writable(exc, path) from None
    except UserError:
        if read_only_ok:
            return None
        raise
    try:
        if os.fstat(fd).st_mode & 0o077:  # made 0644 by an older devstack
            os.fchmod(fd, 0o600)
    except OSError:
        pass  # a read-only file system: the lock works all the same
    return os.fdopen(fd)


@contextmanager
def project_lock(state_dir: Path, wait: float = 120.0, on_wait=None, name: str = "lock", read_only_ok: bool = False):
    handle = _open_lock(state_dir / name, read_only_ok)
    if handle is None:  # nothing can be written there; nothing can race on it either
        yield
        return
    with handle:
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
