"""mariadb/mysql, rabbitmq, memcached and nats under the docker runtime.

Their compose fragments (official images) must pass `docker compose config -q`;
then one stack of Debian-package stand-ins (tests/docker/images/build.sh: no
registry is reachable here; MySQL has no Debian package, so mysql is checked by
its fragment only) goes up on the real engine, each service is used with its
client, data is kept across down/up (memcached: empty, it is a cache), and
`down --volumes` leaves nothing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

import pytest

from tests.docker.test_docker_e2e import _unavailable, assert_nothing_left, docker_engine, make_project  # noqa: F401

pytestmark = pytest.mark.docker

OFFICIAL = """\
  db: {kind: mariadb}
  legacy: {kind: mysql}
  mq: {kind: rabbitmq, vhost: shop/dev}
  cache: {kind: memcached}
  bus: {kind: nats}
"""
STANDINS = """\
  db: {kind: mariadb, image: devstack-test/mariadb:11.4, seed: [seed/schema.sql]}
  mq: {kind: rabbitmq, image: devstack-test/rabbitmq:4.1-management, vhost: shop/dev, seed: [seed/broker.yaml]}
  cache: {kind: memcached, image: devstack-test/memcached:1.6}
  bus: {kind: nats, image: devstack-test/nats:2.10}
"""
SEEDS = {
    "seed/schema.sql": "CREATE TABLE notes (id int AUTO_INCREMENT PRIMARY KEY, body varchar(100) NOT NULL);\n"
                       "INSERT INTO notes (body) VALUES ('seeded');\n",
    "seed/broker.yaml": "queues: [{name: jobs}]\n",
}


def test_the_official_images_fragments_pass_compose_config(tmp_path):
    if not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode:
        _unavailable("no docker CLI with the compose v2 plugin (run .ci/install-docker.sh)")
    project = make_project(tmp_path, "newkinds-config", OFFICIAL)
    project.cli("render")
    compose = project.root / ".devstack" / "compose.yaml"
    checked = subprocess.run(["docker", "compose", "-f", str(compose), "config", "-q"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    text = compose.read_text()
    for image in ("mariadb:11.4", "mysql:8.4", "rabbitmq:4.1-management", "memcached:1.6", "nats:2.10-alpine"):
        assert f"image: {image}\n" in text, image


def mysql_rows(env):
    import pymysql

    with pymysql.connect(host=env["DB_HOST"], port=int(env["DB_PORT"]), user=env["DB_USERNAME"], password=env["DB_PASSWORD"],
                         database=env["DB_DATABASE"], autocommit=True, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT body FROM notes ORDER BY id")
        return [r[0] for r in cur.fetchall()]


def mysql_write(env, body):
    import pymysql

    with pymysql.connect(host=env["DB_HOST"], port=int(env["DB_PORT"]), user=env["DB_USERNAME"], password=env["DB_PASSWORD"],
                         database=env["DB_DATABASE"], autocommit=True, connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO notes (body) VALUES (%s)", (body,))


def amqp(env, publish: bytes | None = None):
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(env["AMQP_URL"]))
    try:
        ch = conn.channel()
        if publish is not None:
            ch.confirm_delivery()
            ch.basic_publish("", "jobs", publish, pika.BasicProperties(delivery_mode=2), mandatory=True)
            return None
        return ch.basic_get("jobs", auto_ack=True)[2]
    finally:
        conn.close()


def memcache(env):
    from pymemcache.client.base import Client

    host, port = env["MEMCACHE_SERVERS"].split(":")
    return Client((host, int(port)), connect_timeout=5, timeout=5)


async def nats_stream(url: str, body: bytes | None) -> list[bytes]:
    import nats

    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        if body is not None:
            await js.add_stream(name="EVENTS", subjects=["events.*"])
            await js.publish("events.one", body)
            return []
        sub = await js.pull_subscribe("events.*", durable="reader")
        return [m.data for m in await sub.fetch(1, timeout=5)]
    finally:
        await nc.close()


def test_standins_up_used_down_up_keeps_data_then_down_volumes_leaves_nothing(docker_engine, tmp_path):  # noqa: F811
    project = make_project(tmp_path, "newkinds-e2e", STANDINS, SEEDS)
    try:
        up = project.cli("up", timeout=600)
        assert "ready in" in up.stderr, up.stderr
        project.wait_healthy(["db", "mq", "cache", "bus"], timeout=120)  # the fragments' healthchecks pass in these images
        env = project.env_file()
        assert env["DATABASE_URL"].startswith("mysql://") and env["AMQP_URL"].endswith("/shop%2Fdev")

        assert mysql_rows(env) == ["seeded"]
        mysql_write(env, "written")
        amqp(env, publish=b"job 1")
        cache = memcache(env)
        cache.set("k", b"v")
        assert cache.get("k") == b"v"
        cache.close()
        asyncio.run(nats_stream(env["NATS_URL"], b"event 1"))

        project.cli("down")
        project.cli("up", timeout=600)
        env = project.env_file()
        assert mysql_rows(env) == ["seeded", "written"]
        assert amqp(env) == b"job 1"
        assert asyncio.run(nats_stream(env["NATS_URL"], None)) == [b"event 1"]
        cache = memcache(env)
        assert cache.get("k") is None  # a cache: nothing kept
        cache.close()
        status = json.loads(project.cli("status", "--json").stdout)
        assert {s["name"]: s["state"] for s in status["services"]} == {"db": "ready", "mq": "ready", "cache": "ready", "bus": "ready"}
    finally:
        project.teardown()
    assert_nothing_left(project)
