"""Native runtime lifecycle with real processes: data across down/up, crashes,
stale pid files, the project lock, failures, runtime selection, ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import subprocess
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.runtime.conftest import needs_servers

pytestmark = needs_servers

STATEFUL = """\
project: keeps
services:
  db: {kind: postgres}
  cache: {kind: redis}
  files: {kind: minio, buckets: [media]}
  mail: {kind: mailpit}
  stripe: {}
  sfu: {kind: livekit}
"""

SMALL = """\
project: small
services:
  cache: {kind: redis}
  flags: {mode: stub, flags: {on: true}}
"""


def http_json(url, method="GET", data=None, headers=None):
    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        return json.loads(body) if body and body[:1] in b"[{" else body


# -- data -------------------------------------------------------------------------------------


def write_everything(out) -> dict:
    import boto3
    import psycopg
    import redis
    import stripe
    from livekit import api

    with psycopg.connect(out["db"]["url"]) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    redis.Redis.from_url(out["cache"]["url"]).set("kept", "yes")
    s3 = boto3.client("s3", endpoint_url=out["files"]["endpoint"], aws_access_key_id=out["files"]["access_key"],
                      aws_secret_access_key=out["files"]["secret_key"], region_name=out["files"]["region"])
    s3.create_bucket(Bucket="made-by-app")
    s3.put_object(Bucket="media", Key="dir/photo.jpg", Body=b"\xff\xd8jpeg", ContentType="image/jpeg", Metadata={"owner": "ann"})
    s3.put_object(Bucket="made-by-app", Key="x", Body=b"")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@keeps.test", "b@example.com", "kept mail"
    msg.set_content("body")
    with smtplib.SMTP(out["mail"]["smtp_host"], out["mail"]["smtp_port"], timeout=10) as smtp:
        smtp.login(out["mail"]["smtp_user"], out["mail"]["smtp_password"])
        smtp.send_message(msg)
    stripe.api_key, stripe.api_base = out["stripe"]["secret_key"], out["stripe"]["api_base"]
    customer = stripe.Customer.create(email="kept@example.com")

    async def room():
        async with api.LiveKitAPI(out["sfu"]["http_url"], out["sfu"]["api_key"], out["sfu"]["api_secret"]) as lk:
            await lk.room.create_room(api.CreateRoomRequest(name="kept-room"))

    asyncio.run(room())
    return {"customer": customer.id}


def read_everything(out, written) -> dict:
    """What survived: one entry per service, None when it is gone."""
    import boto3
    import psycopg
    import redis
    import stripe
    from livekit import api

    found = {}
    with psycopg.connect(out["db"]["url"]) as conn:
        exists = conn.execute("SELECT to_regclass('kept')").fetchone()[0]
        found["db"] = conn.execute("SELECT v FROM kept").fetchone()[0] if exists else None
    found["cache"] = redis.Redis.from_url(out["cache"]["url"]).get("kept")
    s3 = boto3.client("s3", endpoint_url=out["files"]["endpoint"], aws_access_key_id=out["files"]["access_key"],
                      aws_secret_access_key=out["files"]["secret_key"], region_name=out["files"]["region"])
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    found["buckets"] = buckets
    if "media" in buckets and s3.list_objects_v2(Bucket="media").get("KeyCount"):
        obj = s3.get_object(Bucket="media", Key="dir/photo.jpg")
        found["files"] = (obj["Body"].read(), obj["ContentType"], obj["Metadata"])
    else:
        found["files"] = None
    found["mail"] = [m["Subject"] for m in http_json(out["mail"]["url"] + "/api/v1/messages")["messages"]]
    stripe.api_key, stripe.api_base = out["stripe"]["secret_key"], out["stripe"]["api_base"]
    try:
        found["stripe"] = stripe.Customer.retrieve(written["customer"]).email
    except stripe.InvalidRequestError:
        found["stripe"] = None

    async def rooms():
        async with api.LiveKitAPI(out["sfu"]["http_url"], out["sfu"]["api_key"], out["sfu"]["api_secret"]) as lk:
            return [r.name for r in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms]

    found["sfu"] = asyncio.run(rooms())
    return found


def test_data_survives_down_and_up_and_down_volumes_deletes_it(native_stack):
    stack = native_stack(STATEFUL)
    stack.up()
    out = stack.outputs()
    written = write_everything(out)

    stack.cli("down")
    stack.assert_no_process_left()
    assert "stopped" in stack.status()["db"]["state"]
    stack.up()
    kept = read_everything(out, written)
    assert kept["db"] == "still here"
    assert kept["cache"] == b"yes"
    assert {"media", "made-by-app"} <= kept["buckets"]
    assert kept["files"] == (b"\xff\xd8jpeg", "image/jpeg", {"owner": "ann"})
    assert kept["mail"] == ["kept mail"]
    assert kept["stripe"] == "kept@example.com"
    assert kept["sfu"] == ["kept-room"]
    assert stack.outputs() == out  # same ports, same credentials

    stack.cli("down", "--volumes")
    stack.assert_no_process_left()
    stack.up()
    gone = read_everything(stack.outputs(), written)
    assert gone["db"] is None and gone["cache"] is None and gone["files"] is None
    assert gone["buckets"] == {"media"}  # the manifest's bucket is made again, empty
    assert gone["mail"] == [] and gone["stripe"] is None and gone["sfu"] == []


def test_postgres_data_lives_where_its_unprivileged_user_can_reach(native_stack):
    stack = native_stack("project: pg\nservices:\n  db: {kind: postgres}\n")
    stack.up()
    link = stack.state / "db" / "data"
    if os.geteuid() == 0:
        assert link.is_symlink()
        target = link.resolve()
        assert str(target).startswith(os.environ.get("DEVSTACK_DATA_ROOT", "/var/lib/devstack"))
        assert target.stat().st_uid != 0 and (target / "PG_VERSION").exists()
    else:
        assert (link / "PG_VERSION").exists()
    argv = json.loads((stack.state / "db" / "pid").read_text())["argv"]
    socket_dir = Path(next(a.split("=", 1)[1] for a in argv if a.startswith("unix_socket_directories=")))
    port = stack.outputs()["db"]["port"]
    assert len(str(socket_dir / f".s.PGSQL.{port}")) < 100 and (socket_dir / f".s.PGSQL.{port}").exists()
    stack.cli("down")
    assert not socket_dir.exists()


# -- crashes and stale state ---------------------------------------------------------------------


def test_a_killed_service_shows_dead_and_up_restarts_only_it(native_stack):
    stack = native_stack("project: crash\nservices:\n  db: {kind: postgres}\n  cache: {kind: redis}\n  flags: {mode: stub}\n")
    stack.up()
    before = stack.pids()
    os.kill(before["cache"], signal.SIGKILL)
    os.kill(before["db"], signal.SIGKILL)  # postgres leaves postmaster.pid behind
    time.sleep(0.2)
    states = stack.status()
    assert states["cache"]["state"] == "dead" and states["db"]["state"] == "dead"
    assert states["flags"]["state"] == "ready"
    assert "dead" in stack.cli("status", check=False).stdout

    result = stack.up()
    assert "ready in" in result.stderr and "cache" in result.stderr.splitlines()[-1]
    assert "flags" not in result.stderr.splitlines()[-1]
    after = stack.pids()
    assert after["flags"] == before["flags"] and after["cache"] != before["cache"] and after["db"] != before["db"]
    assert all(s["state"] == "ready" for s in stack.status().values())


def test_postgres_killed_at_once_loses_no_committed_transaction(native_stack):
    """The native server runs with fsync=off (docs/performance.md): safe against
    its processes being killed, as every commit's WAL is in the kernel before it
    answers. SIGKILL of every server process right after commits, then up: all there."""
    import psycopg

    stack = native_stack("project: pgkill\nservices:\n  db: {kind: postgres}\n")
    stack.up()
    url = stack.outputs()["db"]["url"]
    committed = 0
    for round_ in range(3):
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW fsync").fetchone()[0] == "off"
            assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
            conn.execute("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, pad text)")
            for _ in range(200):  # one transaction each
                committed += 1
                conn.execute("INSERT INTO t VALUES (%s, repeat('x', 500))", (committed,))
            with conn.transaction():  # and a big one, the last thing answered before the kill
                conn.execute("INSERT INTO t SELECT g, repeat('y', 500) FROM generate_series(%s::int, %s::int) g", (committed + 1, committed + 20000))
            committed += 20000
            os.killpg(stack.pids()["db"], signal.SIGKILL)  # postmaster, checkpointer, walwriter, this backend: all at once
        time.sleep(0.3)
        stack.up()  # crash recovery replays the WAL
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*), max(id) FROM t").fetchone() == (committed, committed), round_


def test_a_stale_pid_file_whose_pid_was_reused_is_never_ours(native_stack):
    stack = native_stack("project: stale\nservices:\n  cache: {kind: redis}\n")
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        (stack.state / "cache").mkdir(parents=True)
        # A pid file from a crashed run whose PID now belongs to an unrelated process.
        (stack.state / "cache" / "pid").write_text(json.dumps({"pid": bystander.pid, "start_time": "1", "argv": ["redis-server"]}))
        assert stack.status()["cache"]["state"] == "dead"
        result = stack.up()
        assert "stale pid file" in result.stderr
        assert stack.status()["cache"]["state"] == "ready"
        stack.cli("down")
        assert bystander.poll() is None, "down signalled a process that was not ours"
        (stack.state / "cache").mkdir(parents=True, exist_ok=True)
        (stack.state / "cache" / "pid").write_text("{not json")
        assert stack.status()["cache"]["state"] == "dead"
        stack.up()
        assert stack.status()["cache"]["state"] == "ready"
    finally:
        bystander.kill()
        bystander.wait()


def test_a_server_a_killed_up_left_without_its_setup_is_set_up_by_the_next_up(native_stack):
    """The bug (fault-injection suite): `up` killed after spawning postgres but
    before its bootstrap (the app role's password); the next `up` found it
    running and waited 60 s on `password authentication failed`."""
    import psycopg

    stack = native_stack("project: pgsetup\nservices:\n  db: {kind: postgres}\n")
    stack.cli("up")
    pid = json.loads((stack.state / "db" / "pid").read_text())["pid"]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    sockets = next(a.split("=", 1)[1] for a in argv if a.startswith("unix_socket_directories="))
    port = argv[argv.index("-p") + 1]
    psql = str(Path(argv[0]).parent / "psql")
    subprocess.run([psql, "-h", sockets, "-p", port, "-U", "app", "-d", "postgres", "-c", "ALTER ROLE app PASSWORD NULL"],
                   check=True, capture_output=True)
    result = stack.cli("up")
    assert "db: running but not answering: completing its setup" in result.stderr, result.stderr
    with psycopg.connect(stack.outputs()["db"]["url"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_two_ups_at_once_start_each_service_once(native_stack):
    stack = native_stack(SMALL)
    first, second = stack.popen("up", "--no-seed"), stack.popen("up", "--no-seed")
    results = [(p.wait(timeout=120), p.stderr.read()) for p in (first, second)]
    assert [code for code, _ in results] == [0, 0], results
    texts = [err for _, err in results]
    assert sum("ready in" in t for t in texts) == 1 and sum("already up" in t for t in texts) == 1, texts
    # Every redis-server started for this stack runs its config file (it keeps its command line: set-proc-title no).
    conf = stack.state / "cache" / "redis.conf"
    redis_servers = subprocess.run(["pgrep", "-f", f"redis-server {conf}"], check=False, capture_output=True, text=True).stdout.split()
    assert len(redis_servers) == 1, redis_servers


# -- failures ---------------------------------------------------------------------------------------


def test_a_failing_service_is_named_with_its_log_and_the_rest_is_stopped(native_stack, tmp_path):
    broken = tmp_path / "turnserver"
    broken.write_text("#!/bin/sh\necho 'starting up'\necho 'boom: cannot bind the relay ports' >&2\nexit 3\n")
    broken.chmod(0o755)
    stack = native_stack(f"project: broken\nservices:\n  cache: {{kind: redis}}\n  turn: {{kind: coturn, bin: {broken}}}\n")
    result = stack.up(check=False)
    assert result.returncode == 1
    err = result.stderr
    assert "turn (coturn) exited before it was ready: exit code 3" in err
    assert "boom: cannot bind the relay ports" in err and "hint:" in err and "devstack logs turn" in err
    assert "Traceback" not in err
    stack.assert_no_process_left()  # redis, started by the same `up`, was stopped again
    assert {s["state"] for s in stack.status().values()} == {"stopped"}


def test_a_missing_program_is_one_error_naming_what_to_install(native_stack, tmp_path):
    stack = native_stack(f"project: nobin\nservices:\n  db: {{kind: postgres, bin_dir: {tmp_path / 'nowhere'}}}\n")
    result = stack.up(check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bin_dir" in result.stderr and "hint:" in result.stderr


# -- runtime selection, ports --------------------------------------------------------------------------


def test_auto_picks_native_without_an_engine_and_flags_override_the_manifest(native_stack, tmp_path):
    stack = native_stack("project: pick\nruntime: auto\nservices:\n  flags: {mode: stub}\n")
    no_engine = {"DEVSTACK_RUNTIME": "", "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    assert json.loads(stack.cli("status", "--json", env=no_engine, check=False).stdout)["runtime"] == "native"
    (stack.root / "devstack.yaml").write_text("project: pick\nruntime: docker\nservices:\n  flags: {mode: stub}\n")
    result = stack.cli("--runtime", "native", "up", "--no-seed", env={"DEVSTACK_RUNTIME": ""})
    assert "on native" in result.stderr
    assert json.loads(stack.cli("status", "--json", env={"DEVSTACK_RUNTIME": "native"}).stdout)["services"][0]["state"] == "ready"


def test_ports_stay_across_restarts_and_never_collide_between_projects(native_stack):
    one, two = native_stack(SMALL, name="one"), native_stack(SMALL, name="two")
    one.up()
    two.up()
    ports_one = {n: s["ports"] for n, s in one.status().items()}
    ports_two = {n: s["ports"] for n, s in two.status().items()}

    def flat(ports):
        return {p for d in ports.values() for p in d.values()}

    assert not flat(ports_one) & flat(ports_two)
    one.cli("down")
    one.up()
    assert {n: s["ports"] for n, s in one.status().items()} == ports_one


def test_stubs_only_runtime_runs_just_the_stand_ins(native_stack, monkeypatch):
    from devstack import manifest, plan
    from devstack.runtime.native import NativeRuntime

    stack = native_stack(SMALL)
    monkeypatch.chdir(stack.root)
    p = plan.build(manifest.load(stack.root / "devstack.yaml"))
    rt = NativeRuntime(stubs_only=True)
    lines = []
    assert rt.up(p, lines.append) == ["flags"]
    stack.remember()
    assert [s.name for s in rt.status(p)] == ["flags"] and rt.status(p)[0].state == "ready"
    assert rt.running_services(p) == {"flags"}
    assert not (stack.state / "cache" / "pid").exists()
    rt.down(p, volumes=True, progress=lines.append)
    stack.assert_no_process_left()


def test_logs_of_a_service_that_is_off(native_stack):
    stack = native_stack("project: offlog\nservices:\n  flags: {mode: stub}\n  analytics: {kind: posthog, mode: off}\n")
    result = stack.cli("logs", "analytics", check=False)
    assert result.returncode == 2 and "mode: off" in result.stderr


def test_down_leaves_nothing_even_for_children_of_a_service(native_stack):
    """postgres forks helpers (which leave its process group); `down` stops them all."""
    from devstack.runtime import process

    stack = native_stack("project: kids\nservices:\n  db: {kind: postgres}\n  flags: {mode: stub}\n")
    stack.up()
    family = {}
    for leader in stack.pids().values():
        family.update(process.members(leader))
    assert len(family) > 3  # postmaster, checkpointer, walwriter..., the flags server
    stack.cli("down")
    assert not process.still_running(family)


def test_the_inbox_api_rejects_bad_ids(native_stack):
    stack = native_stack("project: inbox\nservices:\n  mail: {kind: mailpit}\n")
    stack.up()
    url = stack.outputs()["mail"]["url"]
    with pytest.raises(urllib.error.HTTPError) as info:
        http_json(url + "/api/v1/message/latest")
    assert info.value.code == 404


def _s3(out):
    import boto3

    return boto3.client("s3", endpoint_url=out["endpoint"], aws_access_key_id=out["access_key"],
                        aws_secret_access_key=out["secret_key"], region_name=out["region"])


def test_moto_fallback_keeps_objects_across_down_and_the_stand_in_imports_them(native_stack):
    """`fallback: moto` (in-memory moto, saved on `down`) still works; switching back
    to the default stand-in brings what moto saved along."""
    manifest = "project: motoish\nservices:\n  files: {kind: minio, buckets: [media], fallback: %s}\n"
    stack = native_stack(manifest % "moto")
    stack.up()
    out = stack.outputs()["files"]
    assert "moto" in stack.status()["files"]["detail"]
    _s3(out).put_object(Bucket="media", Key="a.txt", Body=b"from moto", Metadata={"k": "v"})
    stack.cli("down")
    stack.up()
    assert _s3(out).get_object(Bucket="media", Key="a.txt")["Body"].read() == b"from moto"
    stack.cli("down")

    (stack.root / "devstack.yaml").write_text(manifest % "standin")
    stack.up()
    assert "stand-in" in stack.status()["files"]["detail"]
    got = _s3(out).get_object(Bucket="media", Key="a.txt")
    assert (got["Body"].read(), got["Metadata"]) == (b"from moto", {"k": "v"})
