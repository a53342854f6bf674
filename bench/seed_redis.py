"""100,000 Redis keys: devstack's loader vs `redis-cli --pipe`.

Same keys and values: redis-cli reads them as a RESP file of SET commands (made
before timing, as users prepare such files); devstack loads them from a JSON
fixture — its timing includes parsing the fixture, FLUSHDB, writing RESP on a
raw socket (MSET batches) with a concurrent reply reader, and keeping the
snapshot. FLUSHDB before each run (untimed); runs interleaved A B A B; prints
the medians and devstack's throughput as a fraction of redis-cli's (target >= 0.8x).

    python bench/seed_redis.py [--keys 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess

from _seedbench import workdir, interleave, median, plan_for, seed_servers as S, timed, write_manifest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    server = S.start_redis()
    try:
        from devstack.seed.resp import command

        work = workdir("devstack-bench-redis-")
        data = {f"user:{i}:profile": json.dumps({"id": i, "name": f"User {i}", "plan": "pro" if i % 5 == 0 else "free"}) for i in range(args.keys)}
        fixture = work / "keys.json"
        fixture.write_text(json.dumps(data))
        resp = work / "keys.resp"
        with open(resp, "wb") as f:
            f.write(command(b"AUTH", S.REDIS_PASSWORD.encode()))
            for k, v in data.items():
                f.write(command(b"SET", k.encode(), v.encode()))
        print(f"{args.keys:,} keys; fixture {fixture.stat().st_size / 1e6:.1f} MB JSON, redis-cli input {resp.stat().st_size / 1e6:.1f} MB RESP")
        write_manifest(work, {"cache": {"kind": "redis", "port": server.port, "password": S.REDIS_PASSWORD, "db": 0}})
        plan = plan_for(work)
        from devstack.seed.base import Fixture
        from devstack.seed.redis import RedisSeeder

        seeder = RedisSeeder(plan.services["cache"], plan, lambda m: None)
        import redis

        r = redis.Redis(port=server.port, password=S.REDIS_PASSWORD)

        def cli():
            with open(resp, "rb") as stdin:
                return timed(lambda: subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=stdin, check=True, stdout=subprocess.DEVNULL))

        def devstack():
            return timed(lambda: seeder.load([Fixture(fixture, "keys.json")]))

        print("A = redis-cli --pipe, B = devstack")
        ta, tb = interleave(args.runs, cli, devstack, before=r.flushall)
        assert r.dbsize() == args.keys
        ma, mb = median(ta), median(tb)
        print(f"median redis-cli --pipe: {ma:.3f}s ({args.keys / ma:,.0f} keys/s)")
        print(f"median devstack:         {mb:.3f}s ({args.keys / mb:,.0f} keys/s)")
        print(f"ratio (devstack throughput / redis-cli throughput): {ma / mb:.2f}x  (target >= 0.8x)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
