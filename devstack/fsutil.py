"""Small file helpers: atomic private writes, and one clear error when devstack's
state cannot be written (read-only file system, full disk, no permission)."""

from __future__ import annotations

import errno
import json
import os
from contextlib import contextmanager
from pathlib import Path

from devstack.errors import NotWritable

# Why a write failed, in words, for the errors a user can do something about.
_REASONS = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (an immutable file or directory?)",
}


def is_state_error(exc: BaseException) -> bool:
    """An OSError that means "this place cannot be written" (not a bug), raised by a write."""
    return isinstance(exc, OSError) and exc.errno in _REASONS


def is_disk_error(exc: BaseException) -> bool:
    """A read-only or full file system, whatever the operation (no EACCES: a read can fail so)."""
    return isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT)


def not_writable(exc: OSError, path=None) -> NotWritable:
    """The UserError for a failed write of `path` (default: the path the OSError names)."""
    where = Path(path if path is not None else (exc.filename or "?"))
    reason = _REASONS.get(exc.errno, exc.strerror or str(exc))
    directory = where if where.is_dir() else where.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = f"free some space on the disk that holds {directory} (`df -h {directory}`), then run the command again"
    elif exc.errno == errno.EROFS:
        hint = f"remount {directory} read-write (or work from a writable copy of the project), then run the command again"
    else:
        hint = f"check the owner and mode of {directory} (`ls -ld {directory}`; `lsattr -d` for the immutable flag)"
    return NotWritable(where, exc.errno, f"cannot write {where}: {reason}",
                       hint + "; `devstack down` still stops a running stack")


@contextmanager
def writing(path=None):
    """Turn a failed write under this block into NotWritable naming `path`
    (not a temp file beside it; None: the file the error names)."""
    try:
        yield
    except OSError as exc:
        if is_state_error(exc):
            raise not_writable(exc, path) from None
        raise


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write atomically (temp file + rename) with the given mode from the start.

    A failure (full disk...) leaves the old file as it was and raises NotWritable."""
    import tempfile  # here: commands that write nothing skip its import (with shutil's)

    path = Path(path)
    with writing(path):
        private_dir(path.parent, only_if_new=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def inside(path: Path, roots: list[Path]) -> Path | None:
    """The first of roots that holds path (both resolved), else None."""
    for root in roots:
        if path == root or root in path.parents:
            return root
    return None


def read_json(path: Path) -> dict:
    """A JSON state file's object; {} when it is missing, torn or not an object
    (every state file devstack keeps can be rebuilt: the caller starts afresh)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def private_dir(path: Path, only_if_new: bool = False) -> Path:
    """mkdir -p, the last component 0700 (parents keep their modes).

    only_if_new: leave the mode of a directory that already exists alone (a
    file is written into a dir someone else made, e.g. the project root)."""
    path = Path(path)
    with writing(path):
        if path.is_dir():
            if not only_if_new and path.stat().st_mode & 0o077:  # made by an older devstack, or under another umask
                os.chmod(path, 0o700)
            return path
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND | os.O_CREAT) -> int:
    """os.open a file of devstack's state, 0600 (an existing one is made 0600 too)."""
    with writing(path):
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        try:
            if flags & (os.O_WRONLY | os.O_RDWR) and os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        return fd


def check_writable(directory: Path) -> None:
    """Fail now, with one clear error, if `directory` cannot take a write: a
    read-only or full file system found before anything starts, not half-way."""
    directory = Path(directory)
    probe = directory / f".write-check-{os.getpid()}"
    with writing(directory):
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            # A block, not an empty file (that fits on a full disk). No fsync:
            # file systems reserve the space at write() time, and a warm `up`
            # must not wait for a journal commit.
            os.write(fd, b"x" * 4096)
        finally:
            os.close(fd)
            try:
                os.unlink(probe)
            except FileNotFoundError:
                pass
