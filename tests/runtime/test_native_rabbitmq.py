"""rabbitmq as a real local process (Debian's rabbitmq-server), used through pika.

One stack for the module (an Erlang node takes 5-20 s to boot): up with seeded
exchanges/queues/bindings, a publish/consume round trip as the app's user,
guest refused, messages kept across down/up, `seed --reset` empties the seeded
queues, and nothing left after `down --volumes` (epmd included).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pika
import pika.exceptions
import pytest

from tests.runtime.conftest import finish, make_stack

pytestmark = pytest.mark.skipif(not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists() and not shutil.which("rabbitmq-server"),
                                reason="needs rabbitmq-server (apt-get install rabbitmq-server)")

MANIFEST = """\
project: broker
services:
  mq:
    kind: rabbitmq
    vhost: plane/dev
    seed: [seed/broker.yaml, seed/export.json]
"""
BROKER = """\
exchanges:
  - {name: events, type: topic}
queues:
  - name: emails
  - {name: jobs, arguments: {x-queue-type: quorum}}
bindings:
  - {exchange: events, queue: emails, routing_key: "user.*"}
"""
# The shape `rabbitmqctl export_definitions` writes: users and vhosts are left out.
EXPORT = {
    "rabbit_version": "3.10.8",
    "users": [{"name": "someone", "password_hash": "x", "tags": []}],
    "vhosts": [{"name": "/"}],
    "queues": [{"name": "audit", "vhost": "/", "durable": True, "auto_delete": False, "arguments": {}}],
    "exchanges": [],
    "bindings": [{"source": "events", "vhost": "/", "destination": "audit", "destination_type": "queue",
                  "routing_key": "#", "arguments": {}}],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("broker") / "project"
    s = make_stack(root, tmp_path_factory.mktemp("home"), MANIFEST)
    (root / "seed").mkdir()
    (root / "seed" / "broker.yaml").write_text(BROKER)
    (root / "seed" / "export.json").write_text(json.dumps(EXPORT))
    try:
        s.up_result = s.cli("up", timeout=300)
        yield s
    finally:
        finish(s)


def channel(stack):
    url = dict(line.split("=", 1) for line in (stack.root / ".env").read_text().splitlines() if line and not line.startswith("#"))["AMQP_URL"]
    conn = pika.BlockingConnection(pika.URLParameters(url.strip('"')))
    return conn, conn.channel()


def publish(stack, routing_key: str, body: bytes) -> None:
    conn, ch = channel(stack)
    ch.confirm_delivery()
    ch.basic_publish("events", routing_key, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
    conn.close()


def get(stack, queue: str):
    conn, ch = channel(stack)
    try:
        return ch.basic_get(queue, auto_ack=True)[2]
    finally:
        conn.close()


def test_env_and_seeded_topology(stack):
    env = (stack.root / ".env").read_text()
    assert "AMQP_URL=amqp://app:" in env and "@127.0.0.1:" in env and "/plane%2Fdev" in env  # the vhost is URL-encoded
    assert "RABBITMQ_URL=" in env
    assert "declared 1 exchanges, 3 queues, 2 bindings" in stack.up_result.stderr, stack.up_result.stderr
    publish(stack, "user.created", b'{"id": 1}')
    assert get(stack, "emails") == b'{"id": 1}'
    assert get(stack, "audit") == b'{"id": 1}'  # the binding from the definitions export
    conn, ch = channel(stack)
    assert ch.queue_declare("jobs", passive=True).method.queue == "jobs"
    conn.close()


def test_guest_and_wrong_passwords_are_refused(stack):
    o = stack.outputs()["mq"]
    for user, password in (("guest", "guest"), (o["user"], "wrong")):
        params = pika.ConnectionParameters(o["host"], int(o["port"]), o["vhost"], pika.PlainCredentials(user, password),
                                           connection_attempts=1)
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(params)
    request = urllib.request.Request(o["management_url"] + "/api/whoami", headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(request, timeout=5)
    assert denied.value.code == 401


def test_messages_survive_down_up_and_reset_empties_the_seeded_queues(stack):
    publish(stack, "user.deleted", b"kept")
    stack.cli("down")
    assert not stack.alive_groups()
    stack.up(timeout=300)
    assert get(stack, "emails") == b"kept"
    publish(stack, "user.again", b"dropped by reset")
    reset = stack.cli("seed", "--reset")
    assert "queues emptied" in reset.stderr, reset.stderr
    assert get(stack, "emails") is None


def test_every_file_of_the_node_is_in_the_project(stack):
    o = stack.outputs()["mq"]
    data = (stack.state / "mq" / "data").resolve()
    assert (data / "mnesia").is_dir() and (data / "etc" / "rabbitmq.conf").stat().st_mode & 0o777 == 0o600
    assert (data / "home" / ".erlang.cookie").stat().st_mode & 0o777 == 0o400
    conf = (data / "etc" / "rabbitmq.conf").read_text()
    assert f"listeners.tcp.1 = 127.0.0.1:{o['port']}" in conf
    argv = " ".join(json.loads((stack.state / "mq" / "pid").read_text())["argv"])
    assert o["password"] not in argv
