"""`down` after the manifest broke: it stops what `up` recorded (native pid files)."""

from __future__ import annotations

import redis

from tests.runtime.conftest import needs_servers

MANIFEST = """\
project: breakme
runtime: native
services:
  db: {kind: postgres}
  cache: {kind: redis}
  mail: {kind: mailpit, mode: stub}
  s3: {kind: minio, mode: stub}
"""


@needs_servers
def test_down_stops_every_process_after_the_manifest_broke(native_stack):
    stack = native_stack(MANIFEST)
    stack.up()
    out = stack.outputs()
    client = redis.Redis(host=out["cache"]["host"], port=out["cache"]["port"], password=out["cache"]["password"])
    client.set("kept", "yes")
    client.close()
    assert set(stack.pids()) == {"db", "cache", "mail", "s3"}

    (stack.root / "devstack.yaml").write_text(MANIFEST.replace("  cache: {kind: redis}\n", "  cache: {kind: redis, port: -1}\n  [x]: 1\n"))
    broken = stack.cli("down", check=False)
    assert broken.returncode == 0, broken.stderr
    assert "Traceback" not in broken.stderr
    assert "warning:" in broken.stderr and "devstack.yaml:6: invalid YAML: a key must be a plain name" in broken.stderr
    assert "stopping what `up` recorded" in broken.stderr
    stack.assert_no_process_left()
    assert stack.pids() == {}

    # --volumes with a broken manifest stops but keeps the data, and says why
    (stack.root / "devstack.yaml").write_text(MANIFEST)
    stack.up()
    (stack.root / "devstack.yaml").write_text("services: [\n")
    kept = stack.cli("down", "--volumes", check=False)
    assert kept.returncode == 2 and "its data was not deleted" in kept.stderr, kept.stderr
    stack.assert_no_process_left()

    (stack.root / "devstack.yaml").write_text(MANIFEST)
    stack.up()
    out = stack.outputs()  # a kept port another program took meanwhile moves (other tests run beside this one)
    client = redis.Redis(host=out["cache"]["host"], port=out["cache"]["port"], password=out["cache"]["password"])
    assert client.get("kept") == b"yes"  # the data survived both
    client.close()
