"""Local processes for the native runtime: spawning what a NativeSpec says,
pidfiles with a fingerprint, and stopping whole process groups.

The catalog's `Kind.native(svc, stack, host)` returns a NativeSpec (plain data,
devstack/services/spec.py); this module and runtime/native.py only carry it
out, so they hold no per-kind knowledge.

Layout of one service's state, .devstack/<service>/:
    pid     JSON: pid, process start time, argv, implementation (see PidFile)
    log     stdout+stderr of every start, appended (rotated past LOG_ROTATE bytes)
    ...     whatever the kind keeps there (config files, data/)
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.runtime.marks import OWNER_ENV, SERVICE_ENV, marked_env, owner_mark
from devstack.services.spec import DataDir, NativeSpec

LOG_ROTATE = 10 * 1024 * 1024
# Where data of services that must not run as root lives when devstack runs as
# root (see data_dir): the project's own dir is often under /root (0700).
DATA_ROOT_ENV = "DEVSTACK_DATA_ROOT"
DEFAULT_DATA_ROOT = "/var/lib/devstack"
OWNER_MARKER = ".project"


# -- users -------------------------------------------------------------------------


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def unprivileged_user(preferred: str) -> str:
    """A non-root account to run a server that refuses root: `preferred` if it
    exists, else nobody (uid 65534)."""
    for name in (preferred, "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return "65534"


def user_ids(user: str | None) -> tuple[int, int] | None:
    """(uid, gid) to switch to, or None when no switch applies (not root, or no user)."""
    if not user or not is_root():
        return None
    try:
        entry = pwd.getpwnam(user)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        uid = int(user)
        return uid, uid


def data_root() -> Path:
    return Path(os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)


def data_dir(svc_state: Path, project_key: str, service: str, user: str | None) -> DataDir:
    """Where a service that runs as another user keeps its data (looks only;
    place_data makes it when the service starts).

    Not root: no user switch, the data stays in .devstack/<service>/data.
    Root: the server runs as an unprivileged user that usually cannot traverse
    the project (under /root, 0700; pytest's tmp dirs are 0700 too), and
    loosening the user's home permissions is not ours to do. So the data lives
    in $DEVSTACK_DATA_ROOT (default /var/lib/devstack)/<project-key>/<service>,
    owned by that user, and .devstack/<service>/data is a symlink to it so the
    project dir still shows where everything is.
    """
    link = svc_state / "data"
    if user_ids(user) is None:
        if link.is_symlink():  # was run as root before: keep using that data
            return DataDir(link.resolve(), (link.resolve(),))
        return DataDir(link)
    if link.exists() and not link.is_symlink():
        # data created earlier without a user switch: keep it where it is
        return DataDir(link)
    target = data_root() / project_key / service
    # which project this is, for whoever looks in the data root
    marker = (target.parent / OWNER_MARKER, str(svc_state.parent.parent) + "\n")
    return DataDir(target, (target,), link=link, marker=marker)


def place_data(data: DataDir, ids: tuple[int, int] | None) -> None:
    """Make what data_dir described: the dir (owned by the server's user), its link, the marker."""
    if data.marker is not None and not data.marker[0].exists():
        from devstack.fsutil import write_private

        _traversable(data.marker[0].parent)
        write_private(data.marker[0], data.marker[1])
    prepare_path(data.path, ids)
    link = data.link
    if link is not None:
        if link.is_symlink() and link.resolve() != data.path.resolve():
            link.unlink()
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(data.path)


def shared_cache_dir(user: str | None) -> Path:
    """Machine-wide cache of things slow to make (e.g. an initdb'd cluster), where
    `user` (the account a server runs as) can read and write."""
    if user_ids(user) is not None:
        return data_root() / "cache"
    from devstack.ports import home

    return home() / "cache"


def prepare_path(path: Path, ids: tuple[int, int] | None, mode: int = 0o700) -> None:
    """mkdir -p; the last component is owned by ids (parents made traversable)."""
    from devstack.fsutil import writing

    with writing(path):
        if ids is not None:
            _traversable(path.parent)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if ids is not None:
            os.chown(path, *ids)
        os.chmod(path, mode)


def _traversable(directory: Path) -> None:
    """The dirs from the data root down to `directory`, made: 0711, so the
    server's user passes through them to its own data dir (0700) but nobody
    lists or reads them. The data root itself, when it is not ours (a
    DEVSTACK_DATA_ROOT such as /tmp), only gains the x bits."""
    root = data_root()
    if directory != root and root not in directory.parents:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return
    for path in [*reversed([p for p in directory.parents if p == root or root in p.parents]), directory]:
        made = not path.exists()
        if made:
            path.mkdir(mode=0o700, exist_ok=True)
        mode = os.stat(path).st_mode & 0o7777
        ours = path != root or made or str(root) == DEFAULT_DATA_ROOT
        want = 0o711 if ours else mode | 0o111
        if mode != want:
            try:
                os.chmod(path, want)
            except PermissionError:
                pass  # another user's dir: leave it


# -- process identity ---------------------------------------------------------------


def _proc_start_time(pid: int) -> str | None:
    """A value that changes when a PID is reused: the start time (clock ticks
    since boot) on Linux, `ps -o lstart` elsewhere; None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode(errors="replace")
        # comm may hold spaces/parens: split after the last ')'
        fields = data[data.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):  # zombie: it is dead, only not reaped
            return None
        return fields[19]
    except FileNotFoundError:
        return None
    except OSError:
        pass
    if sys.platform.startswith("linux"):
        return None
    try:
        out = subprocess.run(["ps", "-o", "stat=,lstart=", "-p", str(pid)], check=False, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not out or out.startswith("Z"):
        return None
    return out.split(None, 1)[1] if " " in out else out


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _group_has_live_member(pgid)


def _group_has_live_member(pgid: int) -> bool:
    """killpg(0) also succeeds for a group of zombies; on Linux look closer."""
    if not os.path.isdir("/proc"):
        return True
    if any(group == pgid and state not in ("Z", "X") for _, group, state, _ in _proc_table().values()):
        return True
    _reap(pgid)
    return False


def _reap(pid: int) -> None:
    """Collect a child of ours that exited (tests run the runtime in-process)."""
    try:
        while True:
            done, _ = os.waitpid(-pid, os.WNOHANG)
            if done == 0:
                return
    except ChildProcessError:
        return
    except OSError:
        return


@dataclass
class PidFile:
    """.devstack/<service>/pid: which process is ours, robust to PID reuse."""

    path: Path
    pid: int = 0
    start_time: str | None = None
    argv: list[str] = field(default_factory=list)
    implementation: str = ""
    started_at: float = 0.0
    log_offset: int = 0
    ports: dict = field(default_factory=dict)  # the ports it was started with
    stop_signal: int = signal.SIGTERM  # the kind's, so it can be stopped without its spec

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        try:
            data = json.loads(path.read_text())
            return cls(path, int(data["pid"]), data.get("start_time"), list(data.get("argv", [])),
                       data.get("implementation", ""), float(data.get("started_at", 0)), int(data.get("log_offset", 0)),
                       dict(data.get("ports") or {}), int(data.get("stop_signal", signal.SIGTERM)))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, OSError):
            # A torn or foreign file: treat as stale (a leader we cannot identify).
            return cls(path, 0)

    def write(self) -> None:
        from devstack.fsutil import write_private

        write_private(self.path, json.dumps({
            "pid": self.pid, "start_time": self.start_time, "argv": self.argv,
            "implementation": self.implementation, "started_at": self.started_at,
            "log_offset": self.log_offset, "ports": self.ports, "stop_signal": int(self.stop_signal)}, indent=1) + "\n")

    def remove(self) -> None:
        """Forget the process (it is stopped). On a read-only state dir the file
        stays: harmless, its fingerprint no longer matches a live process."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            from devstack.fsutil import is_state_error

            if not is_state_error(exc):
                raise

    def leader_alive(self) -> bool:
        """The recorded process still runs and is the same one (not a reused PID)."""
        if self.pid <= 0:
            return False
        now = _proc_start_time(self.pid)
        if now is None:
            _reap(self.pid)
            return False
        if self.start_time is not None:
            return now == self.start_time
        return self._cmdline_matches()

    def _cmdline_matches(self) -> bool:
        """Weaker fingerprint when no start time was recorded: the program name."""
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
        except OSError:
            return False
        return bool(self.argv) and os.path.basename(self.argv[0]) in cmdline

    def group_left(self) -> bool:
        """Some process of our group is still around (its leader may be gone).

        A PID is not reused while a process group with that id exists, so if
        the leader's PID now belongs to another process, our group is gone.
        """
        if self.pid <= 0:
            return False
        now = _proc_start_time(self.pid)
        if now is not None and self.start_time is not None and now != self.start_time:
            return False  # PID reused by an unrelated process: never signal it
        return group_alive(self.pid)

    def why_dead(self) -> str:
        if self.pid <= 0:
            return "unreadable pid file"
        return f"process {self.pid} is gone"


# -- spawning -----------------------------------------------------------------------


class SpawnError(Exception):
    pass


def open_log(path: Path) -> tuple[object, int]:
    """Open the service log for appending (rotating a big one); returns (file, offset)."""
    from devstack.fsutil import open_private, private_dir, writing

    private_dir(path.parent)
    with writing(path):
        try:
            if path.stat().st_size > LOG_ROTATE:
                os.replace(path, path.with_name(path.name + ".1"))
        except FileNotFoundError:
            pass
    handle = _LogFile(open_private(path), path)
    return handle, handle.tell()


class _LogFile:
    """A service log opened for appending; a failed write names the file."""

    def __init__(self, fd: int, path: Path):
        self.file = os.fdopen(fd, "ab", buffering=0)
        self.path = path

    def write(self, data: bytes) -> None:
        from devstack.fsutil import writing

        with writing(self.path):
            self.file.write(data)

    def fileno(self) -> int:
        return self.file.fileno()

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self.file.close()


def write_files(spec: NativeSpec, ids) -> None:
    for f in spec.files:
        from devstack.fsutil import write_private

        write_private(f.path, f.text, f.mode)
        if f.owned_by_user and ids is not None:
            os.chown(f.path, *ids)


def run_init(spec: NativeSpec, ids, log, env: dict) -> None:
    for step in spec.init:
        if step.creates.exists():
            continue
        log.write(f"=== devstack: {step.description or 'init'}: {step.display or ' '.join(step.argv)}\n".encode())
        kwargs = _user_kwargs(ids)
        try:
            result = subprocess.run(step.argv, check=False, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=str(spec.cwd) if spec.cwd else None, **kwargs)
        except OSError as exc:
            raise SpawnError(f"cannot run {step.argv[0]}: {exc.strerror or exc}") from None
        finally:
            for path in step.cleanup:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
        if result.returncode != 0:
            if step.reset_on_failure is not None and step.reset_on_failure.is_dir():
                for child in step.reset_on_failure.iterdir():
                    remove_tree(child) if child.is_dir() else child.unlink()
            raise SpawnError(f"{step.description or step.argv[0]} failed (exit {result.returncode})")


def _user_kwargs(ids) -> dict:
    # umask 077: whatever a server writes itself (RDB/AOF files, SQLite
    # indexes, stored mail, its own pid file) is 0600 in 0700 dirs.
    if ids is None:
        return {"umask": 0o077}
    return {"user": ids[0], "group": ids[1], "extra_groups": [], "umask": 0o077}


def clear_stale_pidfiles(paths: list[Path], program: str = "", owner: str | None = None) -> None:
    """Remove a server's own lock files (postmaster.pid...) whose PID is gone.

    The PID alive: a server of ours left by an `up` killed before it recorded
    it (the project's mark in its environment) is stopped; the same program
    without the mark (another devstack, a hand-started server) is an error
    naming it; an unrelated process means the PID was reused: the file is stale.
    """
    for path in paths:
        try:
            first = path.read_text().split("\n", 1)[0].strip()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            continue
        pid = int(first) if first.isdigit() else 0
        start = _proc_start_time(pid) if pid > 0 else None
        if start is not None and owner is not None and _environ(pid).get(OWNER_ENV) == owner:
            stop_processes({pid: (start, signal.SIGTERM)})
            start = None
        if start is not None and not program:
            continue  # alive, and nothing tells whose it is: leave it
        if start is not None and os.path.basename(program) in _cmdline(pid):
            raise SpawnError(f"{path} says process {pid} ({_cmdline(pid)[:80]}) runs on this data, and it is still running; "
                             f"stop it (`kill {pid}`) and run `devstack up` again")
        from devstack.fsutil import writing

        with writing(path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def spawn(spec: NativeSpec, state: Path, log_path: Path, pid_path: Path, ports: dict | None = None, launcher=None) -> PidFile:
    """Prepare dirs/files, run init steps, start the process detached; write its pidfile.

    The process carries the project's mark from its first instruction (see
    OWNER_ENV), and if its pid file cannot be written it is killed at once:
    nothing devstack starts runs unrecorded."""
    from devstack.fsutil import private_dir

    ids = user_ids(spec.user)
    owner = owner_mark(state.parent)
    clear_stale_pidfiles(spec.stale_pidfiles, spec.argv[0], owner)
    private_dir(state)
    if spec.data is not None:
        place_data(spec.data, ids)
    for d in spec.dirs:
        prepare_path(d, ids)
    write_files(spec, ids)
    env = marked_env({**os.environ, **spec.env}, state.parent, state.name)
    if ids is not None:
        entry = _pw_entry(ids[0])
        env.update({"HOME": entry or "/", "USER": spec.user or "", "LOGNAME": spec.user or ""})
    log, offset = open_log(log_path)
    proc = pid = None
    try:
        log.write(f"=== devstack: {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.implementation}\n".encode())
        run_init(spec, ids, log, env)
        from devstack.runtime import forkserver

        module = forkserver.forkable(spec.argv, spec.user) if launcher is not None else None
        if module:  # one of devstack's stand-ins: forked from the pre-warmed helper
            try:
                pid = launcher.launch(module, spec.argv[3:], env, str(spec.cwd) if spec.cwd else None, str(log_path))
            except OSError as exc:  # the helper is gone: start it the plain way
                log.write(f"=== devstack: pre-warmed start failed ({exc}), starting it as its own process\n".encode())
        try:
            if pid is None:
                proc = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, cwd=str(spec.cwd) if spec.cwd else None, start_new_session=True,
                                        close_fds=True, **_user_kwargs(ids))
                pid = proc.pid
        except OSError as exc:
            raise SpawnError(f"cannot start {spec.argv[0]}: {exc.strerror or exc}") from None
        record = PidFile(pid_path, pid, _proc_start_time(pid), list(spec.argv), spec.implementation, time.time(), offset,
                         dict(ports or {}), spec.stop_signal)
        record.write()
    except BaseException:
        if pid is not None:  # started, but not recorded (a full disk...): it must not run on unseen
            _kill_unrecorded(pid, proc)
        raise
    finally:
        log.close()
    record.proc = proc  # the caller keeps it to read an early exit code
    return record


def _kill_unrecorded(pid: int, proc) -> None:
    for kill in (os.killpg, os.kill):  # its group, or itself before it called setsid()
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc is not None:
        proc.wait()
    else:
        _wait_gone({pid: start} if (start := _proc_start_time(pid)) else {}, [], 5)


def _pw_entry(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_dir
    except KeyError:
        return None


# -- stopping -----------------------------------------------------------------------


def _wait_gone(procs, targets, timeout: float):
    """Poll until no listed process and no target's group is left (or timeout); returns the survivors."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = still_running(procs)
        if not procs and not any(group_alive(r.pid) for r, _ in targets):
            break
        time.sleep(0.02)
    return still_running(procs)


def _proc_table() -> dict[int, tuple[int, int, str, str]]:
    """pid -> (ppid, pgid, state, start time) of every process (Linux; {} elsewhere)."""
    table = {}
    if not os.path.isdir("/proc"):
        return table
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read().decode(errors="replace")
            fields = data[data.rindex(")") + 2:].split()
            table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0], fields[19])
        except (OSError, ValueError, IndexError):
            continue
    return table


def members(leader: int, table: dict | None = None) -> dict[int, str]:
    """Every live process of a service: its process group, plus descendants that
    left it (PostgreSQL's children call setsid()). pid -> start time."""
    table = _proc_table() if table is None else table
    found = {pid: info[3] for pid, info in table.items() if info[1] == leader and info[2] not in ("Z", "X")}
    frontier = [leader]
    while frontier:
        parent = frontier.pop()
        for pid, info in table.items():
            if info[0] == parent and pid not in found and info[2] not in ("Z", "X"):
                found[pid] = info[3]
                frontier.append(pid)
    return found


def members_of(leaders: list[int]) -> set[int]:
    """Every live process of these services (see members)."""
    table = _proc_table()
    return {pid for leader in leaders for pid in members(leader, table)}


def still_running(procs: dict[int, str]) -> dict[int, str]:
    return {pid: start for pid, start in procs.items() if _proc_start_time(pid) == start}


def stop_groups(targets: list[tuple[PidFile, int]], timeout: float = 10.0) -> list[int]:
    """Signal every target's process group, wait up to `timeout` in total, then
    SIGKILL what is left, including descendants that left the group. Returns the
    pids still alive after that (should be [])."""
    table = _proc_table()
    procs: dict[int, str] = {}
    for record, sig in targets:
        if not record.group_left():
            continue
        procs.update(members(record.pid, table))
        try:
            os.killpg(record.pid, sig)
        except ProcessLookupError:
            continue
    procs = _wait_gone(procs, targets, timeout)
    for record, _ in targets:
        if group_alive(record.pid):
            try:
                os.killpg(record.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for pid in still_running(procs):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    procs = _wait_gone(procs, targets, 5)
    for record, _ in targets:
        _reap(record.pid)
    return sorted(procs)


def stop_processes(found: dict[int, tuple[str, int]], timeout: float = 10.0) -> list[int]:
    """Stop processes given as pid -> (start time, signal): each with its
    signal (its process group when it leads one), SIGKILL after `timeout`, its
    descendants too. A pid whose start time changed (reused) is left alone.
    Returns the pids still alive after that (should be [])."""
    table = _proc_table()
    procs: dict[int, str] = {}
    for pid, (start, sig) in found.items():
        if _proc_start_time(pid) != start:
            continue
        procs[pid] = start
        procs.update(members(pid, table))
        try:
            if table.get(pid, (0, 0))[1] == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    procs = _wait_gone(procs, [], timeout)
    for pid in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    procs = _wait_gone(procs, [], 5)
    for pid in found:
        _reap(pid)
    return sorted(procs)


# -- finding processes by the project's mark --------------------------------------------


@dataclass
class Marked:
    """A live process carrying a project's mark (see OWNER_ENV)."""

    pid: int
    start: str
    service: str | None  # which service it was started for, when that can be told
    command: str


def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            data = handle.read()
    except OSError:  # gone, or another user's process (readable by root only)
        return {}
    found = {}
    for item in data.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key in (OWNER_ENV.encode(), SERVICE_ENV.encode()):
            found[key.decode()] = value.decode(errors="replace")
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def marked_processes(state_dir: Path) -> list[Marked]:
    """Every live process devstack started for this project, recorded or not,
    found by the mark in its environment (Linux /proc; [] elsewhere). The
    stand-ins' fork helper is left out: it dies with the `up` that started it.

    A stand-in forked by that helper shows the helper's environment, not its
    own, so its service is told by its stdout (.devstack/<service>/log).
    """
    owner = owner_mark(state_dir)
    needle = f"{OWNER_ENV}={owner}\0".encode()
    found = []
    for pid, (_ppid, pgid, state, start) in _proc_table().items():
        if state in ("Z", "X") or pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                marked = needle in handle.read() + b"\0"
        except OSError:
            continue
        # A server that writes its title over its environment (Redis 6.2+, a
        # PostgreSQL backend) loses the mark; its stdout, the service's log, stays.
        by_log = None if marked else _service_by_log(pid, owner)
        if not marked and by_log is None:
            continue
        command = _cmdline(pid)
        if "devstack.runtime.forkserver" in command and pgid != pid:
            continue  # the helper itself (its children call setsid() first thing)
        found.append(Marked(pid, start, by_log or _environ(pid).get(SERVICE_ENV) or _service_by_log(pid, owner), command))
    return found


def stop_project(state_dir: Path, timeout: float = 10.0) -> list[int]:
    """Stop every process devstack started for the project whose state dir this
    is, without its manifest or plan (the pytest plugin's watcher, a broken
    manifest): the groups its pid files name, each with the signal recorded
    there, then whatever else carries the project's mark. Returns the pids
    still alive after that (should be [])."""
    found: dict[int, tuple[str, int]] = {}
    for path in Path(state_dir).glob("*/pid"):
        rec = PidFile.read(path)
        if rec is not None and rec.leader_alive():
            found[rec.pid] = (rec.start_time or _proc_start_time(rec.pid) or "", rec.stop_signal)
    covered = members_of(list(found))
    for marked in marked_processes(state_dir):
        if marked.pid not in covered:
            found.setdefault(marked.pid, (marked.start, signal.SIGTERM))
    left = stop_processes(found, timeout) if found else []
    for path in Path(state_dir).glob("*/pid"):
        rec = PidFile.read(path)
        if rec is not None and not rec.group_left():
            rec.remove()
    return left


def _service_by_log(pid: int, owner: str) -> str | None:
    try:
        target = os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return None
    parent, _, name = target.rpartition("/")
    if name in ("log", "log (deleted)") and os.path.dirname(parent) == owner:
        return os.path.basename(parent)
    return None


def tail(path: Path, lines: int, offset: int = 0) -> list[str]:
    """Last `lines` lines of a log (from byte `offset` on)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(offset, size - 64 * 1024)
            handle.seek(start)
            data = handle.read()
    except FileNotFoundError:
        return []
    text = data.decode(errors="replace").splitlines()
    if start > offset and text:
        text = text[1:]  # the first line is likely cut
    return text[-lines:] if lines > 0 else []


def remove_tree(path: Path) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)
    # Per-project dirs under the data root go once they are empty.
    root = data_root()
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            if [p.name for p in parent.iterdir()] == [OWNER_MARKER]:
                (parent / OWNER_MARKER).unlink()
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
