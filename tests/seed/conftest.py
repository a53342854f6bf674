"""Real postgres, redis, moto S3 and the Stripe emulator for the seeding tests (one of each per session).

Each test writes its own devstack.yaml (explicit ports and credentials matching
these servers) and gets a StackPlan from devstack.plan.build, so the seeders
read connection values from the plan exactly as under `devstack up`. Tests
stay apart by database name, redis db number and bucket names.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import seed_servers as S  # noqa: E402

_redis_dbs = itertools.cycle(range(1, 16))


@pytest.fixture(scope="session")
def servers(request):
    started = {}

    def stop_all():
        for server in reversed(list(started.values())):
            server.stop()

    request.addfinalizer(stop_all)
    started["postgres"] = S.start_postgres()
    started["redis"] = S.start_redis()
    started["moto"] = S.start_moto()
    started["stripe"] = S.start_stripe()
    return started


class Project:
    """A project dir with a manifest for the session's servers; seeds through seed_stack."""

    def __init__(self, root: Path, servers):
        self.root = root
        self.servers = servers
        tag = uuid.uuid4().hex[:8]
        self.database = f"t_{tag}"
        self.redis_db = next(_redis_dbs)
        self.bucket = f"bucket-{tag}"
        self.messages: list[str] = []

    def file(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def service(self, kind: str, **extra) -> dict:
        s = self.servers
        base = {
            "postgres": {"kind": "postgres", "port": s["postgres"].port, "user": S.PG_USER, "password": S.PG_PASSWORD, "database": self.database},
            "redis": {"kind": "redis", "port": s["redis"].port, "password": S.REDIS_PASSWORD, "db": self.redis_db},
            "minio": {"kind": "minio", "port": s["moto"].port, "access_key": S.S3_ACCESS_KEY, "secret_key": S.S3_SECRET_KEY},
            "stripe": {"kind": "stripe", "port": s["stripe"].port, "secret_key": S.STRIPE_KEY},
        }[kind]
        return {**base, **extra}

    def manifest(self, services: dict, env: dict | None = None) -> Path:
        doc = {"project": "seedtest", "runtime": "native", "services": services}
        if env:
            doc["env"] = env
        path = self.root / "devstack.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def plan(self):
        from devstack import manifest, plan

        return plan.build(manifest.load(self.root / "devstack.yaml"))

    def seed(self, **kwargs) -> list[str]:
        from devstack.seed import seed_stack

        start = len(self.messages)
        seed_stack(self.plan(), self.messages.append, **kwargs)
        return self.messages[start:]

    # -- clients on the same servers ---------------------------------------------
    def pg(self, dbname: str | None = None):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.servers["postgres"].port, user=S.PG_USER, password=S.PG_PASSWORD,
                               dbname=dbname or self.database, autocommit=True)

    def redis(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.servers["redis"].port, password=S.REDIS_PASSWORD, db=self.redis_db)

    def s3(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.servers['moto'].port}", aws_access_key_id=S.S3_ACCESS_KEY,
                            aws_secret_access_key=S.S3_SECRET_KEY, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))

    def stripe(self, method: str, path: str, params: dict | None = None):
        from devstack.seed.stripe import StripeApi

        return StripeApi(f"http://127.0.0.1:{self.servers['stripe'].port}", S.STRIPE_KEY, "test").call(method, path, params)


@pytest.fixture
def project(tmp_path, servers, monkeypatch):
    monkeypatch.setenv("DEVSTACK_HOME", str(tmp_path / "devstack-home"))
    root = tmp_path / "app"
    root.mkdir()
    return Project(root, servers)
