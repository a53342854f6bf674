"""Redis seeding against a real redis-server: typed values, TTL, errors, idempotence, reset."""

from __future__ import annotations

import json

import pytest

from devstack.seed import SeedError

FLAGS = """
    # feature-flag cache and sessions
    greeting: hello
    counter: 7
    flags:cache: {json: {dex_swap: false, voip_phone: true}, ttl: 300}
    session:abc: {hash: {user_id: "42", device: desktop}, ttl: 86400}
    recent: {list: [c3, c1, c2]}
    online: {set: [u1, u2]}
    leaderboard: {zset: {alice: 12, bob: 7.5}}
    token: {string: secret, ttl: 60}
"""


def snapshot(r) -> dict:
    out = {}
    for key in sorted(r.keys()):
        kind = r.type(key).decode()
        value = {"string": r.get, "hash": r.hgetall, "list": lambda k: r.lrange(k, 0, -1), "set": lambda k: sorted(r.smembers(k)),
                 "zset": lambda k: r.zrange(k, 0, -1, withscores=True)}[kind](key)
        out[key] = (kind, value, r.ttl(key) > 0)
    return out


def setup(project, files=None):
    project.file("seed/redis/10_cache.yaml", FLAGS)
    project.file("seed/redis/20_more.json", json.dumps({"greeting": "replaced by a later file", "json:key": "x"}))
    project.manifest({"cache": project.service("redis", seed=files or ["seed/redis/"])})


def test_typed_values_and_ttl(project):
    setup(project)
    out = project.seed()
    assert any("9 keys" in m for m in out), out
    r = project.redis()
    assert r.get("greeting") == b"replaced by a later file"
    assert r.get("counter") == b"7"
    assert json.loads(r.get("flags:cache")) == {"dex_swap": False, "voip_phone": True}
    assert 0 < r.ttl("flags:cache") <= 300
    assert r.hgetall("session:abc") == {b"user_id": b"42", b"device": b"desktop"}
    assert 86000 < r.ttl("session:abc") <= 86400
    assert r.lrange("recent", 0, -1) == [b"c3", b"c1", b"c2"]
    assert r.smembers("online") == {b"u1", b"u2"}
    assert r.zrange("leaderboard", 0, -1, withscores=True) == [(b"bob", 7.5), (b"alice", 12.0)]
    assert r.get("token") == b"secret" and r.ttl("token") > 0
    assert r.ttl("greeting") == -1


def test_seed_twice_noop_then_reset_removes_junk(project):
    setup(project)
    project.seed()
    r = project.redis()
    seeded = snapshot(r)
    r.set("junk", "from the app")
    out = project.seed()
    assert any("unchanged" in m for m in out) and r.get("junk") == b"from the app"
    r.hset("session:abc", "user_id", "666")
    r.delete("recent")
    r.rpush("online-extra", "x")
    out = project.seed(reset=True)
    assert any("reset to the seeded state" in m for m in out), out
    assert snapshot(r) == seeded
    assert r.ttl("session:abc") > 86000  # TTLs start over as at seed time


def test_bad_value_names_file_and_line_before_touching_redis(project):
    setup(project)
    project.seed()
    r = project.redis()
    r.set("app-key", "kept")
    project.file("seed/redis/10_cache.yaml", FLAGS + "    bad: {hash: {a: [1, 2]}}\n")
    with pytest.raises(SeedError) as err:
        project.seed()
    assert "seed/redis/10_cache.yaml:10: key `bad`: hash field `a`: expected a scalar" in err.value.message, err.value.message
    assert r.get("app-key") == b"kept"  # redis untouched


def test_bare_list_is_refused(project):
    project.file("seed/r.yaml", "things: [a, b]\n")
    project.manifest({"cache": project.service("redis", seed="seed/r.yaml")})
    with pytest.raises(SeedError, match=r"seed/r.yaml:1: key `things`: a bare list is ambiguous"):
        project.seed()


def test_many_keys_and_unicode(project):
    data = {f"k:{i}": f"v{i}" for i in range(5000)}
    data["ünï:cødé"] = "välue ✓"
    project.file("seed/big.json", json.dumps(data))
    project.manifest({"cache": project.service("redis", seed=["seed/big.json"])})
    project.seed()
    r = project.redis()
    assert r.dbsize() == 5001
    assert r.get("k:4999") == b"v4999"
    assert r.get("ünï:cødé").decode() == "välue ✓"


def test_flushed_server_is_seeded_again(project):
    setup(project)
    project.seed()
    project.redis().flushdb()
    out = project.seed()
    assert any("gone from the server" in m for m in out), out
    assert project.redis().dbsize() == 9
