"""Redis keys: devstack's loader vs `redis-cli --pipe`, on 100,000 and 1,000,000 keys.

Same keys and values: redis-cli reads them as a RESP file of SET commands (made
before timing, as users prepare such files); devstack loads them from a JSON
fixture — its timing includes parsing the fixture, FLUSHDB, writing RESP on a
raw socket (MSET batches) with a concurrent reply reader, and keeping the
snapshot. FLUSHDB before each run (untimed); runs interleaved A B A B; prints
the medians and devstack's throughput as a fraction of redis-cli's. Target:
>= 0.9x at every size; exit 1 on a miss.

    python bench/seed_redis.py [--keys 100000,1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import Verdict
from _seedbench import interleave, median, plan_for, seed_servers as S, timed, workdir, write_manifest

TARGET = 0.9


def one_size(keys: int, runs: int, server, verdict: Verdict) -> None:
    from devstack.seed.base import Fixture
    from devstack.seed.redis import RedisSeeder
    from devstack.seed.resp import command

    work = workdir("devstack-bench-redis-")
    data = {f"user:{i}:profile": json.dumps({"id": i, "name": f"User {i}", "plan": "pro" if i % 5 == 0 else "free"}) for i in range(keys)}
    fixture = work / "keys.json"
    fixture.write_text(json.dumps(data))
    resp = work / "keys.resp"
    with open(resp, "wb") as f:
        f.write(command(b"AUTH", S.REDIS_PASSWORD.encode()))
        for k, v in data.items():
            f.write(command(b"SET", k.encode(), v.encode()))
    del data
    print(f"\n{keys:,} keys; fixture {fixture.stat().st_size / 1e6:.1f} MB JSON, redis-cli input {resp.stat().st_size / 1e6:.1f} MB RESP")
    write_manifest(work, {"cache": {"kind": "redis", "port": server.port, "password": S.REDIS_PASSWORD, "db": 0}})
    plan = plan_for(work)
    seeder = RedisSeeder(plan.services["cache"], plan, lambda m: None)
    import redis

    r = redis.Redis(port=server.port, password=S.REDIS_PASSWORD)

    def cli():
        with open(resp, "rb") as stdin:
            return timed(lambda: subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=stdin, check=True, stdout=subprocess.DEVNULL))

    def devstack():
        return timed(lambda: seeder.load([Fixture(fixture, "keys.json")]))

    print("A = redis-cli --pipe, B = devstack")
    ta, tb = interleave(runs, cli, devstack, before=r.flushall)
    assert r.dbsize() == keys
    r.flushall()
    ma, mb = median(ta), median(tb)
    print(f"median redis-cli --pipe: {ma:.3f}s ({keys / ma:,.0f} keys/s)")
    print(f"median devstack:         {mb:.3f}s ({keys / mb:,.0f} keys/s)")
    verdict.check(f"{keys:,} keys, throughput vs redis-cli", f"{ma / mb:.2f}x", f">= {TARGET}x", ma / mb >= TARGET)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", default="100000,1000000", help="comma-separated sizes")
    ap.add_argument("--runs", type=int, default=7, help="runs per candidate (3 at 1M keys and above)")
    args = ap.parse_args()
    verdict = Verdict("Redis seeding")
    server = S.start_redis()
    try:
        for keys in (int(k) for k in args.keys.split(",")):
            one_size(keys, args.runs if keys < 1_000_000 else min(args.runs, 3), server, verdict)
    finally:
        server.stop()
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main())
