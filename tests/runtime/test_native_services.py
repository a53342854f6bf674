"""Every kind as a real local process, used with the client an app would use.

One stack with all seven kinds plus the stub-only kinds is brought up once for
this module (`devstack up` through the CLI, no Docker engine), then each test
talks to one service. The stack is taken down with `down --volumes` at the
end, and nothing of it may be left running.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import smtplib
import subprocess
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.runtime.conftest import finish, make_stack, needs_servers

pytestmark = needs_servers

MANIFEST = """\
project: allkinds
runtime: docker            # overridden: these tests run with DEVSTACK_RUNTIME=native
services:
  db:
    kind: postgres
    databases: [analytics]
  cache:
    kind: redis
  files:
    kind: minio
    buckets: [uploads, {name: avatars, public: true}]
  mail:
    kind: mailpit
  stripe: {}
  turn:
    kind: coturn
    realm: allkinds.local
  sfu:
    kind: livekit
  flags:
    mode: stub
    flags: {beta: true, max_upload_mb: 25}
  analytics:
    kind: posthog
    mode: stub
  errors:
    kind: sentry
    mode: stub
  email:
    kind: email_api
    provider: resend
    inbox: mail
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("allkinds")
    home = tmp_path_factory.mktemp("home")
    s = make_stack(root / "project", home, MANIFEST)
    try:
        s.up_result = s.up()
        s.out = s.outputs()
        yield s
    finally:
        finish(s)


def get_json(url, headers=None, method="GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        return json.loads(body) if body else None


# -- the stack as a whole -------------------------------------------------------------


def test_up_reports_every_service_ready(stack):
    err = stack.up_result.stderr
    assert "on native" in err
    for name in ("db", "cache", "files", "mail", "stripe", "turn", "sfu", "flags", "analytics", "errors", "email"):
        assert f"  {name}: ready" in err
    assert "ready in" in err


def test_status_json_shows_every_service_ready_with_pid_and_ports(stack):
    services = stack.status()
    assert set(services) == {"db", "cache", "files", "mail", "stripe", "turn", "sfu", "flags", "analytics", "errors", "email"}
    for name, s in services.items():
        assert s["state"] == "ready", (name, s)
        assert s["pid"] and s["ports"], (name, s)
    text = stack.cli("status").stdout
    assert "allkinds on native" in text and "postgres" in text


def test_every_listener_is_bound_to_loopback_only(stack):
    pids = set(stack.pids().values())
    out = subprocess.run(["ss", "-H", "-lntup"], check=False, capture_output=True, text=True).stdout
    ours = [line for line in out.splitlines() if any(f"pid={pid}," in line for pid in pids) or _child_of(line, pids)]
    assert ours, out
    for line in ours:
        local = line.split()[4]
        assert local.startswith("127.0.0.1:"), line


def _child_of(line: str, leaders: set[int]) -> bool:
    import re

    for pid in re.findall(r"pid=(\d+),", line):
        try:
            pgid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
        except OSError:
            continue
        if pgid in leaders:
            return True
    return False


def test_up_again_is_a_noop_that_says_so(stack):
    before = stack.pids()
    result = stack.up()
    assert "already up" in result.stderr
    assert stack.pids() == before


# -- one client per kind ----------------------------------------------------------------


def test_postgres_with_psycopg(stack):
    import psycopg

    db = stack.out["db"]
    with psycopg.connect(db["url"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes (body) VALUES (%s)", ("hello",))
        assert conn.execute("SELECT body FROM notes").fetchone() == ("hello",)
        assert conn.execute("SELECT current_user").fetchone() == (db["user"],)
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert {db["database"], "analytics"} <= names
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(db["url"].replace(db["password"], "wrong-password"), connect_timeout=3)


@pytest.mark.parametrize("with_psql", [True, False], ids=["psql", "psycopg"])
def test_postgres_readiness_proves_the_credentials_with_psql_or_psycopg(stack, tmp_path, with_psql):
    """Readiness queries through psql when one is installed, psycopg otherwise;
    both log in with the app's credentials, so a wrong password is not ready."""
    from types import SimpleNamespace

    from devstack.services.base import NotReady
    from devstack.services.postgres import Postgres

    options = {"bin_dir": None if with_psql else str(tmp_path), "version": 15}  # tmp_path holds no psql
    db = stack.out["db"]
    Postgres().ready(SimpleNamespace(outputs=db, options=options), None)
    with pytest.raises(NotReady, match="password"):
        Postgres().ready(SimpleNamespace(outputs={**db, "password": "wrong"}, options=options), None)


def test_postgres_accepting_asks_like_pg_isready(stack):
    """The cheap first step of readiness: a startup packet, no process, no login."""
    import socket
    import struct
    import threading

    from devstack import probes
    from devstack.services.base import NotReady

    db = stack.out["db"]
    probes.pg_accepting("127.0.0.1", db["port"], db["user"], db["database"])
    probes.pg_accepting("127.0.0.1", db["port"], "no-such-role", "no-such-db")  # the login after it says why
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    with pytest.raises(NotReady, match="refused"):
        probes.pg_accepting("127.0.0.1", closed_port, db["user"], db["database"])

    def error_response(sqlstate: bytes) -> bytes:
        fields = b"SFATAL\0C" + sqlstate + b"\0Mno\0\0"
        return b"E" + struct.pack("!i", 4 + len(fields)) + fields

    for sqlstate, ready in ((b"57P03", False), (b"28000", True)):  # starting up; no pg_hba entry
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()

            reply = error_response(sqlstate)

            def answer(server=server, reply=reply):
                conn, _ = server.accept()
                with conn:
                    conn.recv(1024)
                    conn.sendall(reply)

            threading.Thread(target=answer, daemon=True).start()
            if ready:
                probes.pg_accepting("127.0.0.1", server.getsockname()[1], "app", "app")
            else:
                with pytest.raises(NotReady, match="starting up"):
                    probes.pg_accepting("127.0.0.1", server.getsockname()[1], "app", "app")


def test_postgres_runs_unprivileged(stack):
    pid = stack.pids()["db"]
    uid = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:")).split()[1])
    assert uid != 0


def test_redis_with_redis_py(stack):
    import redis

    client = redis.Redis.from_url(stack.out["cache"]["url"])
    client.set("greeting", "hi")
    assert client.get("greeting") == b"hi"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=stack.out["cache"]["port"], password="wrong").ping()


def test_s3_with_boto3_and_minio(stack):
    import boto3
    from minio import Minio

    s3 = stack.out["files"]
    client = boto3.client("s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key"],
                          aws_secret_access_key=s3["secret_key"], region_name=s3["region"])
    names = {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert {"uploads", "avatars"} <= names
    client.put_object(Bucket="uploads", Key="a/b.txt", Body=b"payload", ContentType="text/plain")
    assert client.get_object(Bucket="uploads", Key="a/b.txt")["Body"].read() == b"payload"

    mc = Minio(f"{s3['host']}:{s3['port']}", access_key=s3["access_key"], secret_key=s3["secret_key"], secure=False, region=s3["region"])
    assert mc.bucket_exists("avatars")
    assert [o.object_name for o in mc.list_objects("uploads", recursive=True)] == ["a/b.txt"]


def test_s3_public_bucket_serves_anonymously_private_does_not(stack):
    import boto3

    s3 = stack.out["files"]
    assert s3["buckets"] == ["uploads", "avatars"] and s3["public_buckets"] == ["avatars"]
    client = boto3.client("s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key"],
                          aws_secret_access_key=s3["secret_key"], region_name=s3["region"])
    client.put_object(Bucket="avatars", Key="u/1.png", Body=b"png", ContentType="image/png")
    client.put_object(Bucket="uploads", Key="private.txt", Body=b"mine")
    with urllib.request.urlopen(f"{s3['endpoint']}/avatars/u/1.png", timeout=10) as response:  # a CDN_BASE_URL link
        assert (response.status, response.read()) == (200, b"png")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3['endpoint']}/uploads/private.txt", timeout=10)
    assert refused.value.code == 403


def test_smtp_then_inbox_api(stack):
    mail = stack.out["mail"]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "app@allkinds.test", "user@example.com", "Welcome aboard"
    msg.set_content("hello from the test")
    with smtplib.SMTP(mail["smtp_host"], mail["smtp_port"], timeout=10) as smtp:
        smtp.login(mail["smtp_user"], mail["smtp_password"])
        smtp.send_message(msg)
    listing = get_json(mail["url"] + "/api/v1/messages")
    subjects = [m["Subject"] for m in listing["messages"]]
    assert "Welcome aboard" in subjects
    latest = get_json(mail["url"] + "/api/v1/message/latest")
    assert latest["Subject"] == "Welcome aboard" and "hello from the test" in latest["Text"]
    one = get_json(mail["url"] + f"/api/v1/message/{latest['ID']}")
    assert one["ID"] == latest["ID"]
    delete = urllib.request.Request(mail["url"] + "/api/v1/messages", method="DELETE")
    with urllib.request.urlopen(delete, timeout=10) as response:
        assert response.status == 200
    assert get_json(mail["url"] + "/api/v1/messages")["messages"] == []


def test_stripe_with_stripe_python(stack):
    import stripe

    s = stack.out["stripe"]
    # What the README tells apps to do: the key and STRIPE_API_BASE from the env.
    stripe.api_key, stripe.api_base = s["secret_key"], s["api_base"]
    customer = stripe.Customer.create(email="buyer@example.com")
    assert customer.id.startswith("cus_")
    intent = stripe.PaymentIntent.create(amount=1999, currency="usd", customer=customer.id)
    assert intent.id.startswith("pi_") and intent.amount == 1999
    assert stripe.Customer.retrieve(customer.id).email == "buyer@example.com"


def test_livekit_with_livekit_api(stack):
    from livekit import api

    lk = stack.out["sfu"]

    async def scenario():
        async with api.LiveKitAPI(lk["http_url"], lk["api_key"], lk["api_secret"]) as client:
            room = await client.room.create_room(api.CreateRoomRequest(name="standup"))
            assert room.name == "standup"
            listed = await client.room.list_rooms(api.ListRoomsRequest())
            assert "standup" in [r.name for r in listed.rooms]
        async with api.LiveKitAPI(lk["http_url"], lk["api_key"], "x" * 48) as bad:
            with pytest.raises(api.TwirpError) as info:
                await bad.room.list_rooms(api.ListRoomsRequest())
            return info.value

    error = asyncio.run(scenario())
    assert error.status == 401


def turn_credentials(secret: str, user: str = "alice", ttl: int = 600) -> tuple[str, str]:
    """coturn REST-API credentials: "<expiry>:<user>", base64(HMAC-SHA1(secret, username))."""
    username = f"{int(time.time()) + ttl}:{user}"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, password


def test_turn_allocates_with_rest_credentials_and_refuses_a_wrong_password(stack):
    from aioice import turn

    t = stack.out["turn"]
    server = (t["host"], int(t["port"]))
    username, password = turn_credentials(t["secret"])

    async def allocate(user, pw):
        transport, _ = await asyncio.wait_for(turn.create_turn_endpoint(asyncio.DatagramProtocol, server, user, pw), 10)
        try:
            return transport.get_extra_info("sockname")
        finally:
            transport.close()

    relayed = asyncio.run(allocate(username, password))
    assert relayed[0] == "127.0.0.1" and t["relay_min"] <= relayed[1] <= t["relay_max"]
    with pytest.raises(Exception) as info:
        asyncio.run(allocate(username, "d3Jvbmc="))
    assert "401" in str(info.value) or "Unauthorized" in str(info.value) or "TransactionFailed" in type(info.value).__name__


def test_flags_stub_serves_the_inline_config(stack):
    assert get_json(stack.out["flags"]["url"] + "/config") == {"beta": True, "max_upload_mb": 25}


def test_posthog_and_sentry_sinks_record_events(stack):
    posthog, sentry = stack.out["analytics"], stack.out["errors"]
    body = json.dumps({"api_key": posthog["api_key"], "event": "signed_up", "distinct_id": "u1"}).encode()
    urllib.request.urlopen(urllib.request.Request(posthog["url"] + "/capture/", data=body, headers={"Content-Type": "application/json"}), timeout=10).read()
    events = get_json(posthog["events_url"] + "?source=posthog")
    assert [e["event"] for r in events for e in r["events"]] == ["signed_up"]
    event = json.dumps({"event_id": "ab" * 16, "message": "boom"}).encode()
    urllib.request.urlopen(urllib.request.Request(sentry["url"] + "/api/1/store/", data=event, headers={"Content-Type": "application/json"}), timeout=10).read()
    assert [r["event_id"] for r in get_json(sentry["events_url"] + "?source=sentry")] == ["ab" * 16]


def test_email_api_delivers_into_the_local_inbox(stack):
    email, mail = stack.out["email"], stack.out["mail"]
    body = json.dumps({"from": "app@allkinds.test", "to": ["ann@example.com"], "subject": "Via API", "text": "hi"}).encode()
    request = urllib.request.Request(email["url"] + "/emails", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {email['api_key']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    subjects = [m["Subject"] for m in get_json(mail["url"] + "/api/v1/messages")["messages"]]
    assert "Via API" in subjects


# -- logs ------------------------------------------------------------------------------


def test_logs_prints_the_last_lines(stack):
    out = stack.cli("logs", "db", "-n", "5").stdout
    lines = out.splitlines()
    assert 0 < len(lines) <= 5
    assert "ready to accept connections" in stack.cli("logs", "db", "-n", "200").stdout


def test_logs_follow_prints_new_lines(stack):
    follower = stack.popen("logs", "flags", "-f", "-n", "0")
    try:
        time.sleep(0.5)
        urllib.request.urlopen(stack.out["flags"]["url"] + "/healthz", timeout=5).read()
        deadline = time.monotonic() + 10
        seen = ""
        import os
        import select

        fd = follower.stdout.fileno()  # raw reads: a text read() of a non-blocking pipe with no data raises TypeError
        while time.monotonic() < deadline and "/healthz" not in seen:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                seen += os.read(fd, 65536).decode(errors="replace")
        assert "/healthz" in seen
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_logs_of_an_unknown_service_is_one_clear_error(stack):
    result = stack.cli("logs", "dbb", check=False)
    assert result.returncode == 2 and "no service `dbb`" in result.stderr and "Traceback" not in result.stderr
