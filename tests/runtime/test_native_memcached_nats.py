"""memcached and nats as real local processes (Debian's packages), used through
pymemcache and nats-py: round trips, the token enforced, JetStream's data kept
across down/up, memcached empty after it (a cache), nothing left after down."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest
from pymemcache.client.base import Client

pytestmark = pytest.mark.skipif(not shutil.which("memcached") or not shutil.which("nats-server", path="/usr/sbin:/usr/bin:/usr/local/bin"),
                                reason="needs memcached and nats-server (apt-get install memcached nats-server)")

MANIFEST = "project: msgs\nservices:\n  cache: {kind: memcached}\n  bus: {kind: nats}\n"


def memcached(stack) -> Client:
    env = env_of(stack)
    host, port = env["MEMCACHE_SERVERS"].split(":")
    assert env["MEMCACHED_SERVERS"] == env["MEMCACHE_SERVERS"]
    return Client((host, int(port)), connect_timeout=2, timeout=2)


def env_of(stack) -> dict:
    return {k: v.strip('"') for k, v in (line.split("=", 1) for line in (stack.root / ".env").read_text().splitlines()
                                        if line and not line.startswith("#"))}


async def jetstream_round_trip(url: str, publish: bool) -> list[bytes]:
    import nats

    nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        if publish:
            await js.add_stream(name="ORDERS", subjects=["orders.*"])
            await js.publish("orders.new", b"order 1")
        sub = await js.pull_subscribe("orders.*", durable="worker")
        messages = await sub.fetch(1, timeout=3)
        for m in messages:
            await m.ack()
        return [m.data for m in messages]
    finally:
        await nc.close()


async def refused(url: str) -> str:
    import nats
    import nats.errors

    try:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
    except Exception as exc:  # noqa: BLE001 - what nats-py raises for a refused token differs by version
        return str(exc) or type(exc).__name__
    await nc.close()
    return ""


def test_memcached_and_nats_lifecycle(native_stack):
    stack = native_stack(MANIFEST, name="msgs")
    stack.up()
    cache = memcached(stack)
    cache.set("greeting", b"hello", expire=60)
    assert cache.get("greeting") == b"hello"
    cache.close()

    env = env_of(stack)
    url = env["NATS_URL"]
    o = stack.outputs()["bus"]
    assert url == f"nats://{o['token']}@127.0.0.1:{o['port']}"
    assert asyncio.run(jetstream_round_trip(url, publish=True)) == [b"order 1"]
    assert "uthorization" in asyncio.run(refused(f"nats://wrong-token@127.0.0.1:{o['port']}"))
    assert asyncio.run(refused(f"nats://127.0.0.1:{o['port']}"))  # no token: refused too
    argv = json.loads((stack.state / "bus" / "pid").read_text())["argv"]
    assert o["token"] not in " ".join(argv)
    assert (stack.state / "bus" / "nats.conf").stat().st_mode & 0o777 == 0o600

    # A second message waits in the stream while the server is down.
    async def publish_second():
        import nats

        nc = await nats.connect(url)
        await nc.jetstream().publish("orders.new", b"order 2")
        await nc.close()

    asyncio.run(publish_second())
    stack.cli("down")
    stack.up()
    assert asyncio.run(jetstream_round_trip(url, publish=False)) == [b"order 2"]  # JetStream's store was kept
    cache = memcached(stack)
    assert cache.get("greeting") is None  # a cache: empty after every start
    cache.close()
