"""The fixtures: the session's stack, and a clean seeded world per test on top of it.

Per worker (one pytest process, or one xdist worker): a database cloned from
the seeded template (put back after every test), a Redis logical database,
an S3 client. Per test: a bucket, the inbox's view, Stripe's events, stub logs.
"""

from __future__ import annotations

import re
import uuid

import pytest

from devstack.pytest_plugin import clients

RUN_KEY = pytest.StashKey()  # config.stash[RUN_KEY]: the Run (devstack.pytest_plugin.run)


def _run(config):
    return config.stash[RUN_KEY]


def _services(plan, kind: str):
    return [s for s in plan.services.values() if s.kind.name == kind and s.runs]


def _service(plan, kind: str, fixture: str):
    from devstack.plan import is_primary

    found = _services(plan, kind)
    if not found:
        pytest.fail(f"{fixture} needs a `kind: {kind}` service (mode run or stub) in {plan.manifest_path}", pytrace=False)
    return next((s for s in found if is_primary(s, plan)), found[0])


def _short(text: str, limit: int) -> str:
    text = re.sub(r"[^a-z0-9]", "", text.lower())
    return text[:limit]


@pytest.fixture(scope="session")
def devstack(request):
    """The StackPlan of the test run's stack, brought up (and seeded) once per run."""
    from devstack.errors import UserError

    try:
        return _run(request.config).plan()
    except UserError as exc:
        message = exc.render()
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain


class Worker:
    """This process's own share of the stack (see the module docstring)."""

    def __init__(self, plan, run):
        self.plan, self.run = plan, run
        self.tag = f"{_short(run.run_id, 8)}_{_short(run.worker, 6)}"
        self.databases: dict[str, object] = {}
        self.redis_dbs: dict[str, int] = {}
        self.s3: dict[str, object] = {}

    def database(self, svc):
        if svc.name not in self.databases:
            from devstack.pytest_plugin.postgres import WorkerDatabase
            from devstack.seed.postgres import aux_name

            name = aux_name(svc.outputs["database"], f"_t{self.tag}")
            self.databases[svc.name] = WorkerDatabase(dict(svc.outputs), name)
        return self.databases[svc.name]

    def redis_db(self, svc) -> int:
        if svc.name not in self.redis_dbs:
            index = int(self.run.worker[2:]) if self.run.worker.startswith("gw") and self.run.worker[2:].isdigit() else 0
            app_db = int(svc.outputs["db"] or 0)
            numbers = [n for n in range(16) if n != app_db]
            if index >= len(numbers):
                pytest.fail(f"devstack_redis: worker {self.run.worker} has no Redis database left (16, one per worker "
                            "besides the app's); run fewer xdist workers", pytrace=False)
            self.redis_dbs[svc.name] = numbers[index]
        return self.redis_dbs[svc.name]

    def s3_seeder(self, svc):
        if svc.name not in self.s3:
            from devstack.seed.s3 import S3Seeder

            seeder = S3Seeder(svc, self.plan, lambda message: None)
            self.s3[svc.name] = (seeder, seeder.client())
        return self.s3[svc.name]

    def close(self) -> None:
        for database in self.databases.values():
            database.drop()
        for name, db in self.redis_dbs.items():
            svc = self.plan.services[name]
            _redis_pipe(svc, db, lambda pipe: pipe.call(b"FLUSHDB"))


@pytest.fixture(scope="session")
def _devstack_worker(devstack, request):
    worker = Worker(devstack, _run(request.config))
    yield worker
    worker.close()


# -- postgres ------------------------------------------------------------------------------
@pytest.fixture
def devstack_postgres(devstack, _devstack_worker):
    """A database in the seeded state, this worker's own; whatever the test changed is undone after it."""
    svc = _service(devstack, "postgres", "devstack_postgres")
    database = _devstack_worker.database(svc)
    o = svc.outputs
    yield clients.Database(f"{o['base_url']}/{database.name}", database.name, o["host"], int(o["port"]), o["user"], o["password"])
    database.reset()


# -- redis ---------------------------------------------------------------------------------
def _redis_pipe(svc, db: int, action):
    from devstack.seed.resp import Pipe

    o = svc.outputs
    with Pipe(o["host"], o["port"], o.get("password"), db) as pipe:
        return action(pipe)


def _redis_reset(plan, svc, db: int) -> None:
    """Empty the worker's db and replay the seed's snapshot into it (as `devstack seed --reset` does)."""
    from dataclasses import replace
    from pathlib import Path

    from devstack.plan import Outputs
    from devstack.seed.base import State
    from devstack.seed.redis import RedisSeeder

    record = State(Path(plan.state_dir) / "seed").get(svc.name) or {}
    view = replace(svc, outputs=Outputs(svc.name, {**svc.outputs, "db": str(db)}))
    if not record.get("snapshot") or not RedisSeeder(view, plan, lambda message: None).reset(record["snapshot"]):
        _redis_pipe(svc, db, lambda pipe: pipe.call(b"FLUSHDB"))


@pytest.fixture
def devstack_redis(devstack, _devstack_worker):
    """A Redis database of this worker's own (not the app's), holding the seeded keys."""
    svc = _service(devstack, "redis", "devstack_redis")
    db = _devstack_worker.redis_db(svc)
    _redis_reset(devstack, svc, db)
    o = svc.outputs
    url = re.sub(r"/\d+$", f"/{db}", o["url"])
    return clients.RedisDb(url, o["host"], int(o["port"]), o["password"], db)


# -- s3 ------------------------------------------------------------------------------------
@pytest.fixture
def devstack_bucket(devstack, _devstack_worker, request):
    """A bucket of this test's own, holding the seeded objects of the service's first bucket
    (`@pytest.mark.devstack_bucket("name")` picks another); deleted afterwards."""
    from devstack.seed.base import State

    svc = _service(devstack, "minio", "devstack_bucket")
    marker = request.node.get_closest_marker("devstack_bucket")
    source = marker.args[0] if marker and marker.args else svc.outputs["bucket"] or None
    seeder, s3 = _devstack_worker.s3_seeder(svc)
    o = svc.outputs
    bucket = clients.Bucket(f"test-{_short(_devstack_worker.tag, 16)}-{uuid.uuid4().hex[:10]}", o["endpoint"],
                            o["access_key"], o["secret_key"], o["region"], source)
    seeder.ensure_bucket(s3, bucket.name)
    snapshot = (State(devstack.state_dir / "seed").get(svc.name) or {}).get("snapshot") or {}
    if source and source in snapshot.get("buckets", []):  # the seeded objects, from the seed's copy on disk
        seeder.upload_all(s3, seeder.snapshot_items(source, bucket.name))
    yield bucket
    seeder.empty(s3, bucket.name)
    s3.delete_bucket(Bucket=bucket.name)


# -- mail ----------------------------------------------------------------------------------
@pytest.fixture
def devstack_inbox(devstack, request):
    """The mail the app sent during this test (empty when it starts); `wait_for(to=, subject=)`."""
    svc = _service(devstack, "mailpit", "devstack_inbox")
    return clients.Inbox(svc.outputs["url"], clear=not _run(request.config).xdist)


# -- stripe --------------------------------------------------------------------------------
@pytest.fixture
def devstack_stripe(devstack):
    """A stripe-python client on the local Stripe, and `events()`: the events this test caused."""
    svc = _service(devstack, "stripe", "devstack_stripe")
    o = svc.outputs
    stripe = clients.Stripe(o["api_base"], o["secret_key"], o.get("publishable_key", ""), o.get("webhook_secret", ""))
    stripe.mark()
    return stripe


# -- livekit / turn ------------------------------------------------------------------------
@pytest.fixture
def devstack_livekit(devstack, request):
    """The local LiveKit: `token(identity)`, `api()`, `room(name)`; rooms named with room() are deleted after."""
    svc = _service(devstack, "livekit", "devstack_livekit")
    o = svc.outputs
    prefix = f"test-{_short(request.node.name, 24)}-{uuid.uuid4().hex[:6]}"
    livekit = clients.LiveKit(o["url"], o["http_url"], o["api_key"], o["api_secret"], prefix)
    yield livekit
    livekit.cleanup()


@pytest.fixture
def devstack_turn_credentials(devstack, request):
    """Short-lived TURN credentials for the local coturn, as an RTCIceServer dict (urls, username, credential)."""
    svc = _service(devstack, "coturn", "devstack_turn_credentials")
    return clients.turn_credentials(svc.outputs, user=f"test-{_short(request.node.name, 24)}")


# -- stand-ins' request logs -------------------------------------------------------------
@pytest.fixture
def devstack_stub_log(devstack):
    """devstack_stub_log("flags") -> what that stand-in received during this test (.requests(), .events())."""
    import time

    started = time.time()
    marks: dict[str, int] = {}
    for svc in devstack.services.values():
        if svc.runs and svc.kind.records_requests:
            marks[svc.name] = clients.last_request_seq(svc.outputs["url"])

    def log(service: str) -> clients.StubLog:
        svc = devstack.services.get(service)
        if svc is None or service not in marks:
            logged = ", ".join(sorted(marks)) or "none in this manifest"
            pytest.fail(f"devstack_stub_log({service!r}): no stand-in of that name records requests (those that do: {logged})",
                        pytrace=False)
        return clients.StubLog(service, svc.outputs["url"], marks[service], svc.outputs.get("events_url"), started)

    return log


# -- env -------------------------------------------------------------------------------------
@pytest.fixture
def devstack_env(devstack, request, monkeypatch):
    """The app's variables (as in .env) set in os.environ for this test, pointing at this test's
    database, Redis db and bucket (when the manifest has those services)."""
    changes = {}
    own = {"postgres": "devstack_postgres", "redis": "devstack_redis", "minio": "devstack_bucket"}
    for kind, fixture in own.items():
        if not _services(devstack, kind):
            continue
        value = request.getfixturevalue(fixture)
        svc = _service(devstack, kind, fixture)
        if kind == "postgres":
            changes[svc.name] = {"database": value.name}
        elif kind == "redis":
            changes[svc.name] = {"db": value.db}
        else:
            changes[svc.name] = {"buckets": [value.name, *[b for b in svc.options.get("buckets") or [] if b != value.seeded_from]]}
    env = devstack.env_with(changes) if changes else dict(devstack.env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
