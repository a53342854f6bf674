"""Real servers for the seeding tests and benches: postgres, redis, moto S3, the Stripe emulator.

Plain functions (no pytest), so bench/ can start the same servers. Every server
is a subprocess we started; `stop()` ends it by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("DEVSTACK_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER, PG_PASSWORD = "app", "seed-pass"
REDIS_PASSWORD = "redis-pass"
S3_ACCESS_KEY, S3_SECRET_KEY = "seedaccesskey", "seedsecretkey"
STRIPE_KEY = "sk_test_seed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


class Server:
    def __init__(self, name: str, proc: subprocess.Popen, port: int, workdir: Path, log: Path):
        self.name, self.proc, self.port, self.workdir, self.log = name, proc, port, workdir, log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if self.name == "postgres" else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _workdir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"devstack-seed-{name}-"))
    os.chmod(path, 0o755)
    return path


def _as_postgres():
    """preexec_fn that drops to the `postgres` user when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return None
    import pwd

    pw = pwd.getpwnam("postgres")

    def drop():
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    return drop, pw


def start_postgres(fast: bool = True, settings: tuple[str, ...] = ()) -> Server:
    """fast: no durability at all (tests). settings: more `-c name=value` argv (benches
    pass the native runtime's own, devstack.services.postgres.DEV_DURABILITY)."""
    work = _workdir("pg")
    data, sock, log = work / "data", work / "sock", work / "postgres.log"
    sock.mkdir()
    pwfile = work / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    drop = _as_postgres()
    if drop:
        for p in (work, sock, pwfile):
            os.chown(p, drop[1].pw_uid, drop[1].pw_gid)
    preexec = drop[0] if drop else None
    subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "--pwfile", str(pwfile),
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=preexec)
    port = free_port()
    args = [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sock),
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=50"]
    if fast:
        args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    args += list(settings)
    handle = open(log, "wb")
    if drop:
        os.chown(log, drop[1].pw_uid, drop[1].pw_gid)
    proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=preexec)
    server = Server("postgres", proc, port, work, log)
    try:
        wait_port(port, proc, log)
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(host="127.0.0.1", port=port, user=PG_USER, password=PG_PASSWORD, dbname="postgres").close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    return server


def start_redis() -> Server:
    work = _workdir("redis")
    port, log = free_port(), work / "redis.log"
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", REDIS_PASSWORD,
                             "--save", "", "--appendonly", "no", "--dir", str(work)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server("redis", proc, port, work, log)
    try:
        wait_port(port, proc, log)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_http(url: str, proc, log: Path, headers=None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers HTTP
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not answering {url} after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def start_moto() -> Server:
    work = _workdir("moto")
    port, log = free_port(), work / "moto.log"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work)
    server = Server("moto", proc, port, work, log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc, log)
    except BaseException:
        server.stop()
        raise
    return server


def start_stripe() -> Server:
    """devstack's Stripe emulator, accepting only STRIPE_KEY."""
    work = _workdir("stripe")
    port, log = free_port(), work / "stripe.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "DEVSTACK_STRIPE_SECRET_KEY": STRIPE_KEY}
    proc = subprocess.Popen([sys.executable, "-m", "devstack.stubs.stripe", "--host", "127.0.0.1", "--port", str(port),
                             "--state-dir", str(work)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO)
    server = Server("stripe", proc, port, work, log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/v1/customers", proc, log, {"Authorization": f"Bearer {STRIPE_KEY}"})
    except BaseException:
        server.stop()
        raise
    return server
