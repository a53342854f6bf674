"""The session stack's watcher: takes the stack down when its owner dies first.

    python -m devstack.session.watcher STATE_DIR OWNER_PID OWNER_START_TIME

Started (in a session of its own) before anything of the stack starts. It waits
for the owner (pytest, or xdist's controller) to exit: a pidfd on Linux (woken
the moment it exits, even by SIGKILL), polling elsewhere. When the owner takes
the stack down itself it sends SIGTERM here first, and the watcher just exits.
Otherwise it stops the session's processes and containers and deletes its data.
Testcontainers' Ryuk does the containers' part where its image can be pulled;
this does it for both runtimes, with nothing to pull.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from pathlib import Path


def wait_for_exit(pid: int, start_time: float) -> None:
    if not _same_process(pid, start_time):
        return
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)
        return
    while _same_process(pid, start_time):
        time.sleep(0.2)


def _same_process(pid: int, start_time: float) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and (not start_time or abs(proc.create_time() - start_time) < 0.01)
    except psutil.Error:
        return False


def say(message: str) -> None:
    sys.stderr.write(time.strftime("%H:%M:%S ") + message + "\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    state_dir, pid, start_time = Path(argv[0]), int(argv[1]), float(argv[2])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # the owner cleaned up itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    say(f"watching PID {pid} for {state_dir.name}")
    wait_for_exit(pid, start_time)
    # From here on the cleanup must finish: a late SIGTERM from the owner's own teardown is moot.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    say(f"PID {pid} is gone without taking its test stack down: taking it down")
    from devstack.session import SessionStack, Spec, read_spec

    spec = read_spec(state_dir)
    if spec is None:
        say("no session state: nothing was started")
        import shutil

        shutil.rmtree(state_dir, ignore_errors=True)
        return 0
    SessionStack(Spec(**spec)).teardown(say, stop_watcher=False)
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
