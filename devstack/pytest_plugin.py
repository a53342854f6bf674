"""pytest plugin (entry point `devstack`): per-test isolation on one running stack.

    def test_signup(devstack_postgres, devstack_inbox): ...

The session brings the stack up once (like `devstack up`), then each test gets
its own database (cloned from the seeded template), Redis db, bucket and a
clean inbox. Loaded in every pytest run of a project that installs devstack,
so nothing heavy is imported at module level.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

HELP_FILE = "devstack.yaml the fixtures bring up (default: found from the rootdir upwards)"


def pytest_addoption(parser):
    parser.addini("devstack_file", HELP_FILE)
    parser.addoption("--devstack-file", metavar="PATH", help=HELP_FILE)
    parser.addoption("--devstack-runtime", choices=["auto", "docker", "native"], help="runtime for the test stack")


def _progress(message: str) -> None:
    import sys

    sys.stderr.write(message + "\n")


def _service(plan, kind: str):
    found = [s for s in plan.services.values() if s.kind.name == kind and s.runs]
    if not found:
        pytest.fail(f"devstack fixture needs a running `{kind}` service in {plan.manifest_path}", pytrace=False)
    return found[0]


@pytest.fixture(scope="session")
def devstack(request):
    """The StackPlan of the running stack (brought up once per session)."""
    from devstack import manifest as manifest_mod
    from devstack import operations
    from devstack.errors import UserError
    from devstack.project import Project

    config = request.config
    explicit = config.getoption("--devstack-file") or config.getini("devstack_file") or None
    try:
        path = manifest_mod.find(start=config.rootpath, explicit=explicit)
        project = Project(file=str(path), runtime=config.getoption("--devstack-runtime"))
        result = operations.up(project, _progress)
    except UserError as exc:
        pytest.fail(exc.render(), pytrace=False)
    return result.plan


@pytest.fixture
def devstack_env(devstack, monkeypatch):
    """The app's variables (as in .env) set in os.environ for this test."""
    for key, value in devstack.env.items():
        monkeypatch.setenv(key, value)
    return dict(devstack.env)


@dataclass
class Database:
    url: str
    name: str
    host: str
    port: int
    user: str
    password: str

    def connect(self, **kwargs):
        import psycopg

        return psycopg.connect(self.url, **kwargs)


@pytest.fixture
def devstack_postgres(devstack):
    """A fresh database for this test, cloned from the seeded state; dropped afterwards."""
    import psycopg
    from psycopg import sql

    svc = _service(devstack, "postgres")
    o = svc.outputs
    admin = dict(host=o["host"], port=o["port"], user=o["user"], password=o["password"], dbname="postgres", autocommit=True)
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**admin) as conn:
        templates = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", [[f"{o['database']}_seeded", o["database"]]])]
        template = f"{o['database']}_seeded" if f"{o['database']}_seeded" in templates else o["database"]
        try:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        except psycopg.errors.ObjectInUse:
            # The app holds connections to its database: start empty rather than fail.
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = o["base_url"] + "/" + name
    yield Database(url, name, o["host"], o["port"], o["user"], o["password"])
    with psycopg.connect(**admin) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


@pytest.fixture
def devstack_redis(devstack):
    """A Redis URL on a database number of its own (not the app's), flushed before and after."""
    import redis

    svc = _service(devstack, "redis")
    o = svc.outputs
    db = 1 + (int(o["db"]) + _worker_index()) % 15
    client = redis.Redis(host=o["host"], port=o["port"], password=o["password"], db=db)
    client.flushdb()
    url = f"redis://:{urllib.request.quote(o['password'], safe='')}@{o['host']}:{o['port']}/{db}"
    yield url
    client.flushdb()
    client.close()


@dataclass
class Bucket:
    name: str
    endpoint: str
    access_key: str
    secret_key: str
    region: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region)


@pytest.fixture
def devstack_bucket(devstack):
    """An empty bucket of this test's own; emptied and deleted afterwards."""
    svc = _service(devstack, "minio")
    o = svc.outputs
    bucket = Bucket(f"test-{uuid.uuid4().hex[:12]}", o["endpoint"], o["access_key"], o["secret_key"], o["region"])
    s3 = bucket.client()
    s3.create_bucket(Bucket=bucket.name)
    yield bucket
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket.name, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket.name)


class Inbox:
    """The local inbox (mailpit API): what the app sent during this test."""

    def __init__(self, url: str):
        self.url = url

    def _call(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body.strip().startswith((b"{", b"[")) else body

    def messages(self) -> list[dict]:
        return self._call("/api/v1/messages")["messages"]

    def latest(self) -> dict:
        return self._call("/api/v1/message/latest")

    def clear(self) -> None:
        self._call("/api/v1/messages", method="DELETE")


@pytest.fixture
def devstack_inbox(devstack):
    """The stack's inbox, emptied before the test."""
    inbox = Inbox(_service(devstack, "mailpit").outputs["url"])
    inbox.clear()
    return inbox
