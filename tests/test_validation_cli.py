"""Every mistake of a manifest in one run of any command, through the CLI; hostile files exit 2 without a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.hostile import alias_bomb

MANY_MISTAKES = """\
project: shop
services:
  db:
    kind: postgres
    pasword: x
    seed: [seed/missing.sql]
  cache:
    kind: redis
    port: 70000
    seed: [seed/keys.yaml, seed/nope/]
  s3:
    kind: minio
    buckets: [Bad_Bucket]
    seed: {Also_Bad: seed/s3/, assets: /etc/}
  queue:
    kind: rabbitmq
secrets:
  jwt: "hex:abc"
  signing: "ed25519:32"
env:
  DATABASE_URL: "{{ db.uri }}"
  BROKEN: "{{ 1/0 }}"
  QUEUE_URL: "{{ queue.url }}"
  LOOPS: "{% for i in range(3) %}x{% endfor %}"
"""

EXPECTED = [  # (line, key path, words)
    (5, "services.db.pasword", "unknown key `pasword`"),
    (6, "services.db.seed.0", "fixture not found: seed/missing.sql"),
    (9, "services.cache.port", "port 70000 is outside 1-65535"),
    (10, "services.cache.seed.1", "fixture not found: seed/nope/"),
    (13, "services.s3.buckets", "invalid bucket name 'Bad_Bucket'"),
    (14, "services.s3.seed.Also_Bad", "invalid bucket name 'Also_Bad'"),
    (14, "services.s3.seed.assets", "`/etc/` is outside the project"),
    (16, "services.queue.kind", "unknown kind `rabbitmq`"),
    (18, "secrets.jwt", "invalid size in 'hex:abc'"),
    (19, "secrets.signing", "an ed25519 key has a fixed size"),
    (21, "env.DATABASE_URL", "service `db` has no output `uri`"),
    (22, "env.BROKEN", "ZeroDivisionError"),
    (24, "env.LOOPS", "loops are not allowed"),
]


@pytest.mark.parametrize("command", ["render", "env", "status", "up"])
def test_every_mistake_in_one_run_with_its_line(tmp_path, cli, command):
    (tmp_path / "seed" / "s3").mkdir(parents=True)
    (tmp_path / "seed" / "keys.yaml").write_text("a: b\n")
    (tmp_path / "seed" / "s3" / "logo.png").write_bytes(b"png")
    (tmp_path / "devstack.yaml").write_text(MANY_MISTAKES)
    result = cli(command, cwd=tmp_path, env={"DEVSTACK_RUNTIME": "native"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {tmp_path / 'devstack.yaml'}: {len(EXPECTED)} problems", result.stderr
    reported = lines[1:-1]
    assert len(reported) == len(EXPECTED), result.stderr
    for text, (line, path, words) in zip(reported, EXPECTED, strict=True):
        assert text.startswith(f"  {tmp_path / 'devstack.yaml'}:{line}: {path}: "), (text, line, path)
        assert words in text, (text, words)
    assert "queue.url" not in result.stderr  # the unknown kind is reported once, not again by the expression
    assert not (tmp_path / ".devstack").exists() and not (tmp_path / ".env").exists()  # nothing started or written


@pytest.mark.parametrize("content", [
    b"services:\n  cache: {kind: redis}\nproject: \xff\xfe\n",
    b"[a]: 1\nservices: {cache: {kind: redis}}\n",
    b"project: !!int x\nservices: {cache: {kind: redis}}\n",
    b"services: {cache: {kind: redis}}\nx: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    b"services: {cache: {kind: redis}}\nsecrets: {k: \"hex:\xc2\xb2\"}\n",
    b"services:\n  db: {kind: postgres, mode: external, url: \"http://[::1/x\"}\n",
    b"services:\n  db: {kind: postgres}\nenv: {A: \"{{ db.url|wordwrap(0) }}\"}\n",
    b"services:\n  cache: {kind: redis, seed: [\"/**/*.json\"]}\n",
    b"\x00\x01binary",
    b"- just\n- a list\n",
    b"services: !!binary notbase64\n",
    b"services:\n  cache: {kind: redis, password: \"a\\nrequirepass x\"}\n",
], ids=["non-utf8", "unhashable-key", "mistyped-tag", "deep-nesting", "superscript-size", "bad-ipv6-url",
        "wordwrap-0", "filesystem-glob", "binary", "a-list", "bad-binary-tag", "newline-in-password"])
def test_hostile_manifests_exit_2_with_a_message(tmp_path, cli, content):
    (tmp_path / "devstack.yaml").write_bytes(content)
    for command in ("render", "down"):
        result = cli(command, cwd=tmp_path, timeout=30)
        assert result.returncode == 2 or (command == "down" and result.returncode == 0), result.stderr
        assert "Traceback" not in result.stderr
        assert "devstack.yaml" in result.stderr


def test_alias_bomb_exits_2_fast_and_small(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text(alias_bomb())
    # VmHWM (peak RSS of this process image): ru_maxrss would carry pytest's own peak across exec.
    code = ("import runpy, sys\nsys.argv = ['devstack', 'render']\n"
            "try:\n    runpy.run_module('devstack', run_name='__main__')\n"
            "finally:\n    peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "    sys.stderr.write(f'peak_kb={peak}\\n')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "too many values" in result.stderr, result.stderr
    rss = int(result.stderr.rsplit("peak_kb=", 1)[1])
    assert rss < 100_000, f"{rss} KB"  # ~25 MB; before the bounds it passed 6 GB


def test_a_missing_binary_names_the_service_and_its_line(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text("runtime: native\nservices:\n  cache:\n    kind: redis\n    bin: /nope/redis-server\n"
                                            "  turn:\n    kind: coturn\n    bin: /nope/turnserver\n")
    result = cli("up", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "2 services cannot run on this machine" in result.stderr
    assert f"{tmp_path / 'devstack.yaml'}:3: services.cache: bin: /nope/redis-server is not an executable" in result.stderr
    assert f"{tmp_path / 'devstack.yaml'}:6: services.turn: bin: /nope/turnserver" in result.stderr
