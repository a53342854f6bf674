"""Fault injection on the native runtime: `up` killed (SIGKILL) at many points of
its run, a full disk and a read-only state dir under a running stack.

After each fault the next `up` must succeed with the seeded data intact (a
Postgres table, Redis keys), no port moved and one server per service, and
`down` must leave no process of the project: checked by pid files, by command
lines, working dirs and open files pointing into the project (independent of
the mark devstack puts on its processes).
"""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.runtime.conftest import Stack, needs_servers, processes_mentioning

pytestmark = needs_servers

MANIFEST = """\
project: crashy
services:
  db:
    kind: postgres
    database: app
    seed: [seed/notes.sql]
  cache:
    kind: redis
    seed: [seed/redis/]
  mail:
    kind: mailpit
    mode: stub
  flags:
    mode: stub
    flags: {beta: true}
"""
FILES = {
    "seed/notes.sql": "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n"
                      "INSERT INTO notes VALUES (1, 'first'), (2, 'second'), (3, 'third');\n",
    "seed/redis/keys.yaml": "greeting: hello\ncounter: 41\n",
}
NOTES = [(1, "first"), (2, "second"), (3, "third")]
# One process per server (postgres has a process per backend: not counted).
SINGLE_PROCESS = ("cache", "mail", "flags")
KILLS_FROM_STOPPED = 16
KILLS_FROM_FRESH = 15


def make(native_stack, manifest: str = MANIFEST, files: dict | None = None, name: str = "app") -> Stack:
    stack = native_stack(manifest, name=name)
    for name, text in (files or FILES).items():
        (stack.root / name).parent.mkdir(parents=True, exist_ok=True)
        (stack.root / name).write_text(text)
    return stack


def env_of(stack: Stack) -> dict[str, str]:
    lines = (stack.root / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def assert_seeded(stack: Stack) -> None:
    import psycopg
    import redis

    env = env_of(stack)
    with psycopg.connect(env["DATABASE_URL"], connect_timeout=10) as conn:
        assert conn.execute("SELECT id, body FROM notes ORDER BY id").fetchall() == NOTES
    client = redis.Redis.from_url(env["REDIS_URL"], socket_timeout=10)
    try:
        assert client.get("greeting") == b"hello" and client.get("counter") == b"41"
    finally:
        client.close()


def using(paths: list[Path]) -> dict[int, str]:
    """Live processes whose command line, working dir or an open file is under one of `paths`."""
    roots = [str(p) for p in paths]
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        base = f"/proc/{entry}"
        try:
            if Path(base, "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            cmdline = Path(base, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            targets = [cmdline, os.readlink(f"{base}/cwd")]
            targets += [os.readlink(f"{base}/fd/{fd}") for fd in os.listdir(f"{base}/fd")]
        except OSError:
            continue
        if "pytest" not in cmdline and any(root in target for root in roots for target in targets):
            found[int(entry)] = cmdline[:160]
    return found


def servers_of(stack: Stack, service: str) -> list[int]:
    """Session leaders writing to the service's log: its servers (two is the orphan bug)."""
    log = str(stack.state / service / "log")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) == int(entry) and os.readlink(f"/proc/{entry}/fd/1") == log:
                found.append(int(entry))
        except OSError:
            continue
    return found


def assert_nothing_left(stack: Stack, data_dirs: list[Path]) -> None:
    stack.assert_no_process_left()
    deadline = time.monotonic() + 3
    while (left := using([stack.root, *data_dirs])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes of the project left after down: {left}"
    assert not processes_mentioning(stack.root)


def killed_up(stack: Stack, after: float, data_dirs: list[Path]) -> set[int]:
    """`devstack up` (with seeding), SIGKILLed `after` seconds after it started;
    returns the processes of the project it left (pids)."""
    proc = stack.popen("up")
    try:
        proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        proc.kill()
    proc.communicate()
    stack.remember()
    return set(using([stack.root, *data_dirs]))


def timed_up(stack: Stack) -> float:
    started = time.monotonic()
    stack.cli("up")
    return time.monotonic() - started


def kill_points(duration: float, count: int) -> list[float]:
    """`count` instants spread evenly over a run of `duration` seconds (its start to its end)."""
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def recover_and_check(stack: Stack, after: float, leftovers: set[int], baseline: dict) -> None:
    result = stack.cli("up", check=False)
    context = f"after a kill at {after}s: up exited {result.returncode}\n{result.stderr}"
    assert result.returncode == 0, context
    # A port moves when another program holds it (other users of this machine
    # may): never because a leftover of the killed run does.
    holders = {int(pid) for pid in re.findall(r"is held by PID (\d+)", result.stderr)}
    assert not holders & leftovers, context
    assert_seeded(stack)
    for service in SINGLE_PROCESS:
        assert len(servers_of(stack, service)) == 1, (service, servers_of(stack, service), context)
    assert {name: env_of(stack)[name] for name in baseline} == baseline, context  # the same credentials


def kills_from_stopped(stack: Stack, stop: threading.Event) -> list[int]:
    stack.cli("up")
    assert_seeded(stack)
    baseline = {name: value for name, value in env_of(stack).items() if "PASSWORD" in name}
    data_dirs = stack.data_root_dirs()
    stack.cli("down")
    duration = timed_up(stack)  # the run the kills are spread over
    stack.cli("down")
    left = []  # how many processes each kill left behind
    for after in kill_points(duration, KILLS_FROM_STOPPED):
        if stop.is_set():
            break
        leftovers = killed_up(stack, after, data_dirs)
        recover_and_check(stack, after, leftovers, baseline)
        stack.cli("down")
        assert_nothing_left(stack, data_dirs)
        left.append(len(leftovers))
    return left


def kills_from_fresh(stack: Stack, stop: threading.Event) -> list[int]:
    duration = timed_up(stack)  # fresh: data dirs made, seeded
    data_dirs = stack.data_root_dirs()
    left = []
    for after in kill_points(duration, KILLS_FROM_FRESH):
        if stop.is_set():
            break
        stack.cli("down", "--volumes")
        assert_nothing_left(stack, data_dirs)
        leftovers = killed_up(stack, after, data_dirs)
        recover_and_check(stack, after, leftovers, {})
        left.append(len(leftovers))
    stack.cli("down", "--volumes")
    assert_nothing_left(stack, data_dirs)
    return left


def test_up_killed_at_any_point_recovers_from_a_stopped_and_from_a_fresh_stack(native_stack):
    """Two projects side by side (the CI budget): one killed from a stopped
    stack, one from a fresh one (`down --volumes` before each kill)."""
    from concurrent.futures import ThreadPoolExecutor

    stop = threading.Event()

    def run(job, stack):
        try:
            return job(stack, stop)
        except BaseException:
            stop.set()  # the other sequence ends early: one failure is enough to read
            raise

    stacks = {kills_from_stopped: make(native_stack, name="stopped"), kills_from_fresh: make(native_stack, name="fresh")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run, job, stack) for job, stack in stacks.items()]
        left = [future.result() for future in futures]
    assert [len(kills) for kills in left] == [KILLS_FROM_STOPPED, KILLS_FROM_FRESH]
    for kills in left:  # spread over the whole run: before anything started, and while servers ran
        assert min(kills) == 0 and max(kills) > 0, left


# -- a full disk and a read-only state dir ------------------------------------------------


DISK_MANIFEST = MANIFEST + """\
  files:
    kind: minio
    buckets: [uploads]
"""


def assert_one_clear_error(result, path: Path, reason: str) -> None:
    text = result.stderr
    assert result.returncode == 2, text
    assert "Traceback" not in text and text.count("error:") == 1, text
    assert str(path) in text and reason in text, text
    assert "hint:" in text, text


def s3_client(outputs: dict):
    import boto3
    from botocore.config import Config

    o = outputs["files"]
    return boto3.client("s3", endpoint_url=o["endpoint"], aws_access_key_id=o["access_key"],
                        aws_secret_access_key=o["secret_key"], region_name=o["region"],
                        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def send_mail(outputs: dict, subject: str) -> None:
    o = outputs["mail"]
    with smtplib.SMTP(o["smtp_host"], o["smtp_port"], timeout=10) as smtp:
        smtp.login(o["smtp_user"], o["smtp_password"])
        smtp.sendmail("a@example.test", ["b@example.test"], f"Subject: {subject}\r\n\r\nhello\r\n")


def fill(directory: Path) -> Path:
    """Write into `directory` until its file system is full (to the last block)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_under_a_running_stack_gives_one_error_and_down_still_stops_it(mounts, native_stack):
    from botocore.exceptions import ClientError

    stack = make(native_stack, DISK_MANIFEST)
    stack.state.mkdir()
    mounts("-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", target=stack.state)
    stack.cli("up")
    outputs = stack.outputs()
    data_dirs = stack.data_root_dirs()
    s3 = s3_client(outputs)
    s3.put_object(Bucket="uploads", Key="before.txt", Body=b"kept")
    send_mail(outputs, "before")

    filler = fill(stack.state)
    for args in (("up",), ("seed",)):
        assert_one_clear_error(stack.cli(*args, check=False), stack.state, "no space left")
    assert "wrote .env" in stack.cli("render").stderr  # it writes nothing on that disk
    # The stand-ins refuse what they cannot store, and keep nothing half-written.
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_mail(outputs, "during")
    assert refused.value.smtp_code == 452
    with pytest.raises(ClientError) as full:
        s3.put_object(Bucket="uploads", Key="during.bin", Body=os.urandom(256 * 1024))
    assert full.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507
    messages = stack.state / "mail" / "data" / "messages"
    assert sorted(p.suffix for p in messages.iterdir()) == [".eml", ".json"]  # the one from before, whole
    assert list((stack.state / "files" / "data" / "tmp").iterdir()) == []

    result = stack.cli("down", check=False)
    assert result.returncode == 0, result.stderr
    assert_nothing_left(stack, data_dirs)

    filler.unlink()
    stack.cli("up")
    assert_seeded(stack)
    assert s3.get_object(Bucket="uploads", Key="before.txt")["Body"].read() == b"kept"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="uploads")["Contents"]] == ["before.txt"]
    s3.put_object(Bucket="uploads", Key="after.txt", Body=b"works")
    send_mail(outputs, "after")
    assert len(list(messages.glob("*.eml"))) == 2
    stack.cli("down")
    assert_nothing_left(stack, data_dirs)


def test_a_read_only_state_dir_gives_one_error_and_down_still_stops_the_stack(mounts, native_stack):
    stack = make(native_stack)
    stack.cli("up")
    data_dirs = stack.data_root_dirs()
    # chmod does not stop root: a read-only bind mount does. The whole project
    # (its state dir and .env), so `render` has something to fail on too.
    mounts("--bind", str(stack.root), target=stack.root)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(stack.root)], check=True)
    for args in (("up",), ("seed",)):
        assert_one_clear_error(stack.cli(*args, check=False), stack.state, "read-only")
    assert_one_clear_error(stack.cli("render", check=False), stack.root / ".env", "read-only")

    result = stack.cli("down", check=False)
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stderr
    assert_nothing_left(stack, data_dirs)
    assert_one_clear_error(stack.cli("down", "--volumes", check=False), stack.state, "read-only")  # data kept, said why

    subprocess.run(["mount", "-o", "remount,bind,rw", str(stack.root)], check=True)
    stack.cli("up")  # the pid files left behind name dead processes: started again
    assert_seeded(stack)
