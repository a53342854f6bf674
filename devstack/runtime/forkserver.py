"""A pre-warmed Python that forks devstack's own stand-in servers.

Every stand-in (`python -m devstack.stubs.<name>`) is an aiohttp server, and
importing aiohttp costs ~0.4 s of CPU per interpreter: with four or five of
them starting at once on a 2-core laptop or CI runner, that import alone was
most of `devstack up`. So `up` starts one helper that imports the common part
once (devstack.stubs._serve: asyncio, aiohttp.web), then forks one child per
stand-in; each child detaches exactly like a spawned process (own session,
log on stdout/stderr, cwd, env) and runs its module as __main__, importing
only what is its own. The helper exits when `up` is done with it; the
children are ordinary processes of the stack from then on (pid files, stop,
status are the same).

Protocol (one JSON object per line): the runtime writes
{"module", "args", "env", "cwd", "log"}; the helper answers {"pid"} or
{"error"}. EOF on stdin ends the helper.

The helper never outlives the `up` that started it: the kernel kills it when
its parent dies (PR_SET_PDEATHSIG), and it checks its parent before each
fork, so a request still queued in the pipe when `up` was killed is never
served. It runs with the project's mark in its environment,
which its children show in /proc too (devstack/runtime/marks.py): a child forked just before `up` died,
with no pid file yet, is found by `down` and by the next `up`.

`up` starts the helper before it plans (prestart), when the manifest names
two or more services that run as stand-ins without a binary: its import then
overlaps devstack's own work. The runtime claims it, or it is killed unused.

DEVSTACK_FORKSERVER=0 turns this off (every stand-in is then its own `python -m`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading

PRELOAD = "devstack.stubs._serve"
PREFIX = "devstack.stubs."
PARENT_ENV = "DEVSTACK_FORKSERVER_PARENT"  # the pid of the `up` it serves
PR_SET_PDEATHSIG = 1  # prctl(2)


def enabled() -> bool:
    return os.environ.get("DEVSTACK_FORKSERVER", "1") not in ("0", "false", "no", "off")


def forkable(argv: list[str], user) -> str | None:
    """The stand-in module argv runs, if the helper can start it instead."""
    if user or len(argv) < 3 or argv[0] != sys.executable or argv[1] != "-m" or not argv[2].startswith(PREFIX):
        return None
    return argv[2]


_early: ForkServer | None = None


def prestart(manifest) -> None:
    """Start the helper now if this stack will likely fork two or more stand-ins."""
    global _early
    from devstack.services import catalog

    likely = [s for s in manifest.services.values()
              if s.mode == "stub" or (s.mode == "run" and catalog.get(s.kind).standin_when_no_binary)]
    if enabled() and _early is None and len(likely) >= 2:
        _early = ForkServer(helper_env(manifest.state_dir))


def helper_env(state_dir) -> dict:
    """The helper's env: its children's imports must find devstack (a source
    checkout too), and it carries the project's mark (see the module's doc)."""
    from devstack.runtime.marks import marked_env
    from devstack.services.spec import python_env

    return {**marked_env({**os.environ, **python_env()}, state_dir), PARENT_ENV: str(os.getpid())}


def claim() -> ForkServer | None:
    """The prestarted helper, now the caller's to use and close."""
    global _early
    early, _early = _early, None
    return early


def discard() -> None:
    """Kill a prestarted helper nobody claimed (its import may still be running)."""
    early = claim()
    if early is not None:
        early.kill()


class ForkServer:
    """The runtime's side: start the helper, ask it for children, close it.

    Start it from a thread that lives as long as the `up` (the main thread):
    the kernel's parent-death signal follows the thread that forked it."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "devstack.runtime.forkserver"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1)
        self.lock = threading.Lock()

    def launch(self, module: str, args: list[str], env: dict, cwd: str | None, log: str) -> int:
        request = json.dumps({"module": module, "args": args, "env": env, "cwd": cwd, "log": log})
        with self.lock:
            try:
                self.proc.stdin.write(request + "\n")
                self.proc.stdin.flush()
                answer = self.proc.stdout.readline()
            except (OSError, ValueError) as exc:
                raise OSError(f"the stand-in launcher is gone: {exc}") from None
        if not answer:
            raise OSError("the stand-in launcher exited")
        reply = json.loads(answer)
        if "error" in reply:
            raise OSError(reply["error"])
        return int(reply["pid"])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


# -- the helper ---------------------------------------------------------------------------


def _child(request: dict) -> None:
    """In the forked child: become a detached process of its own, run the module."""
    import runpy
    import signal

    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        import gc

        gc.enable()  # the helper left it off (see serve)
        os.setsid()
        os.umask(0o077)  # like every process devstack starts: what it writes is 0600
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 65536)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdio
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        if request.get("cwd"):
            os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _set_name(request["module"].rsplit(".", 1)[-1])
        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - show it in the service's log, like a crash would
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _set_name(name: str) -> None:
    """Name the process (ps -o comm, top) after its stand-in (Linux; elsewhere it keeps python's)."""
    try:
        with open("/proc/self/comm", "w") as comm:  # what prctl(PR_SET_NAME) sets, without importing ctypes
            comm.write(f"ds-{name}"[:15])
    except OSError:
        pass


def _die_with_parent() -> None:
    """SIGKILL when the `up` that started us dies; exit now if it already has."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the parent check before each fork remains
    _exit_if_orphaned()


def _exit_if_orphaned() -> None:
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):
        os._exit(0)


@contextlib.contextmanager
def _without_ca_certificates():
    """aiohttp builds two TLS client contexts when imported, each loading every CA
    certificate of the system (~0.1 s of CPU, before any stand-in can start).
    The stand-ins are servers; the one client among them (the Stripe emulator's
    webhook delivery) makes its own context when it first sends. So the helper
    imports with OpenSSL's default CA paths pointing at nothing: aiohttp's own
    default contexts then trust no one (they fail closed, never open)."""
    saved = {name: os.environ.get(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    os.environ.update(SSL_CERT_FILE=os.devnull, SSL_CERT_DIR=os.path.join(os.devnull, "none"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def serve() -> None:
    import gc
    import importlib
    import signal

    _die_with_parent()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are not ours to wait for
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # no collection mid-import: what is imported stays packed in the pages the children share
    with _without_ca_certificates():
        importlib.import_module(PRELOAD)
    # Out of the collector's sight: a collection in a child would write to every
    # preloaded object's header and copy the pages it shares with its siblings.
    gc.freeze()
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        _exit_if_orphaned()  # never fork for an `up` that is gone
        request = json.loads(line)
        try:
            pid = os.fork()
        except OSError as exc:
            out.write(json.dumps({"error": f"fork failed: {exc}"}) + "\n")
            out.flush()
            continue
        if pid == 0:
            _child(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
    os._exit(0)  # nothing to clean up; skipping interpreter teardown saves ~0.2 s of `up`


if __name__ == "__main__":
    serve()
