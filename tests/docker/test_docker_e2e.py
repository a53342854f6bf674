"""The docker runtime end to end, on a real Docker Engine, through the CLI as a user runs it.

No registry is reachable here, so the stacks use local stand-in images built by
tests/docker/images/build.sh (once per session; cached outside the clone).
Without an engine these tests skip, except under CI=true where they fail.

Every project is taken down with `down --volumes` at the end, and the test
asserts that no container, network or volume labelled with its compose
project is left.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tests" / "docker" / "images" / "build.sh"
IMAGES = {"postgres": "devstack-test/postgres:15", "redis": "devstack-test/redis:7", "mailpit": "devstack-test/mailpit:latest"}


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine with compose v2 and the stand-in images (built once per session)."""
    from devstack.runtime.engine import engine_answers

    if not shutil.which("docker"):
        _unavailable("no docker CLI (run .ci/install-docker.sh)")
    if not engine_answers():
        _unavailable("no Docker engine answers (run .ci/install-docker.sh)")
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        _unavailable("the docker compose v2 plugin is missing (run .ci/install-docker.sh)")
    built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=3600, check=False)
    if built.returncode != 0:
        pytest.fail(f"{BUILD.relative_to(ROOT)} failed:\n{built.stderr[-3000:]}", pytrace=False)
    return True


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def leftovers(compose_project: str) -> dict[str, list[str]]:
    """Containers, networks and volumes of a compose project (by its label)."""
    label = f"label=com.docker.compose.project={compose_project}"
    return {
        "containers": docker("ps", "-a", "--filter", label, "--format", "{{.Names}}").split(),
        "networks": docker("network", "ls", "--filter", label, "--format", "{{.Name}}").split(),
        "volumes": docker("volume", "ls", "--filter", label, "--format", "{{.Name}}").split(),
    }


class Project:
    """A project dir with a manifest; the CLI runs in it like a user's shell would."""

    def __init__(self, root: Path, name: str, env: dict | None = None, context: str | None = None):
        self.root, self.name, self.env, self.context = root, name, env or {}, context
        self.compose_project = f"devstack-{name}"

    def cli(self, *args: str, check: bool = True, timeout: int = 300):
        pre = ("--context", self.context) if self.context else ()
        return run_cli(*pre, *args, cwd=self.root, env=self.env, check=check, timeout=timeout)

    def env_file(self) -> dict[str, str]:
        values = {}
        for line in (self.root / ".env").read_text().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value.strip('"')
        return values

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json", check=False).stdout)  # exit 1 while not all ready

    def health(self) -> dict[str, str]:
        names = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={self.compose_project}",
                       "--format", "{{.Label \"com.docker.compose.service\"}}={{.Status}}").split("\n")
        return dict(n.split("=", 1) for n in names if n)

    def wait_healthy(self, services: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if all("(healthy)" in health.get(s, "") for s in services):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not healthy after {timeout}s: {health}")
            time.sleep(0.5)

    def teardown(self) -> None:
        self.cli("down", "--volumes", check=False)


def make_project(tmp_path: Path, name: str, services: str, files: dict[str, str] | None = None, **kw) -> Project:
    root = tmp_path / name
    root.mkdir(parents=True)
    (root / "devstack.yaml").write_text(f"project: {name}\nruntime: docker\nservices:\n{services}")
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return Project(root, name, **kw)


FULL = f"""\
  db:
    kind: postgres
    image: {IMAGES['postgres']}
    seed: [seed/schema.sql]
  cache:
    kind: redis
    image: {IMAGES['redis']}
    seed: [seed/cache.yaml]
  mail:
    kind: mailpit
    image: {IMAGES['mailpit']}
"""
SEEDS = {
    "seed/schema.sql": "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\nINSERT INTO notes (body) VALUES ('seeded');\n",
    "seed/cache.yaml": "greeting: hello\n",
}


def without_ports(env: dict) -> dict:
    import re

    return {k: re.sub(r":\d+", ":PORT", v) for k, v in env.items() if not k.endswith("PORT")}


def pg_rows(env: dict) -> list[str]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"], connect_timeout=5) as conn:
        return [row[0] for row in conn.execute("SELECT body FROM notes ORDER BY id")]


def pg_write(env: dict, body: str) -> None:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"], connect_timeout=5) as conn:
        conn.execute("INSERT INTO notes (body) VALUES (%s)", (body,))


def redis_client(env: dict):
    import redis

    return redis.Redis.from_url(env["REDIS_URL"], socket_timeout=5)


def send_mail(env: dict, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "app@example.test", "user@example.test", subject
    message.set_content("hello from the e2e test")
    with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=10) as smtp:
        smtp.login(env["SMTP_USER"], env["SMTP_PASSWORD"])
        smtp.send_message(message)


def inbox_subjects(env: dict) -> list[str]:
    with urllib.request.urlopen(env["MAILPIT_URL"] + "/api/v1/messages", timeout=10) as response:
        return [m["Subject"] for m in json.load(response)["messages"]]


def process_gone(pid: int, wait: float = 5.0) -> bool:
    """Exited (a zombie not yet reaped by init counts as exited)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def assert_nothing_left(project: Project) -> None:
    assert leftovers(project.compose_project) == {"containers": [], "networks": [], "volumes": []}


# -- the life of a stack ---------------------------------------------------------------------------

def test_up_seed_write_down_up_keeps_data_then_down_volumes_leaves_nothing(docker_engine, tmp_path):
    a = make_project(tmp_path, "e2e-alpha", FULL, SEEDS)
    b = make_project(tmp_path, "e2e-beta", FULL, SEEDS)
    try:
        up = a.cli("up")
        assert "ready in" in up.stderr, up.stderr
        status = a.status()
        assert status["runtime"] == "docker" and status["where"] == "docker engine unix:///var/run/docker.sock (local)"
        assert {s["name"]: s["state"] for s in status["services"]}.keys() == {"db", "cache", "mail"}
        a.wait_healthy(["db", "cache", "mail"])
        assert all(s["state"] == "ready" for s in a.status()["services"])

        env = a.env_file()
        assert env["DATABASE_URL"].startswith("postgresql://") and "@127.0.0.1:" in env["DATABASE_URL"]
        assert pg_rows(env) == ["seeded"]  # seeded by devstack once the services were ready
        assert redis_client(env).get("greeting") == b"hello"

        # write
        pg_write(env, "written")
        redis_client(env).set("written", "yes")
        send_mail(env, "welcome")
        with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=10) as smtp:  # mailpit got the one login
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                smtp.login(env["SMTP_USER"], env["SMTP_PASSWORD"] + "x")
            assert refused.value.smtp_code == 535
        deadline = time.monotonic() + 10
        while "welcome" not in inbox_subjects(env) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "welcome" in inbox_subjects(env)

        # a second project at the same time: its own ports, names, data
        b.cli("up")
        env_b = b.env_file()
        ports_a = {v for k, v in env.items() if k.endswith("PORT")}
        ports_b = {v for k, v in env_b.items() if k.endswith("PORT")}
        assert ports_a and not ports_a & ports_b
        pg_write(env_b, "beta only")
        assert pg_rows(env_b) == ["seeded", "beta only"]
        assert pg_rows(env) == ["seeded", "written"]
        assert set(b.health()) == {"db", "cache", "mail"}

        # idempotent
        again = a.cli("up")
        assert "already up" in again.stderr, again.stderr

        # down keeps the data
        a.cli("down")
        after_down = leftovers(a.compose_project)
        assert after_down["containers"] == [] and after_down["networks"] == []
        assert sorted(after_down["volumes"]) == sorted(f"{a.compose_project}_{s}-data" for s in ("cache", "db", "mail"))
        assert all(s["state"] == "stopped" for s in a.status()["services"])

        a.cli("up")
        # Same credentials and URLs (a port moves only if another program took it meanwhile).
        env_again = a.env_file()
        assert without_ports(env_again) == without_ports(env)
        env = env_again
        assert pg_rows(env) == ["seeded", "written"]
        assert redis_client(env).get("written") == b"yes"
        assert pg_rows(env_b) == ["seeded", "beta only"]  # the other stack never stopped

        # logs
        logs = a.cli("logs", "cache", "-n", "5")
        assert "Ready to accept connections" in logs.stdout

        a.cli("down", "--volumes")
        assert_nothing_left(a)
        b.cli("down", "--volumes")
        assert_nothing_left(b)
    finally:
        a.teardown()
        b.teardown()
    assert_nothing_left(a)
    assert_nothing_left(b)


def test_postgres_container_killed_at_once_loses_no_committed_transaction(docker_engine, tmp_path):
    """The container's postgres runs with fsync=off, as natively: its commits are in
    the host's kernel before they answer, so SIGKILL of the server loses none."""
    import psycopg

    project = make_project(tmp_path, "e2e-pgkill", f"  db:\n    kind: postgres\n    image: {IMAGES['postgres']}\n")
    try:
        project.cli("up")
        url = project.env_file()["DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW fsync").fetchone()[0] == "off"
            assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            for i in range(1, 301):
                conn.execute("INSERT INTO t VALUES (%s)", (i,))
            pid = int(subprocess.run(["docker", "inspect", "--format", "{{.State.Pid}}", f"{project.compose_project}-db-1"],
                                     capture_output=True, text=True, check=True).stdout)
            os.kill(pid, 9)  # the postmaster; its children follow when the container's init goes
        deadline = time.monotonic() + 60
        while True:  # `restart: unless-stopped` brings it back; crash recovery replays the WAL
            try:
                with psycopg.connect(url, connect_timeout=2) as conn:
                    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 300
                    break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "postgres did not come back"
                time.sleep(0.2)
    finally:
        project.teardown()
    assert_nothing_left(project)


def test_stand_in_beside_containers(docker_engine, tmp_path):
    p = make_project(tmp_path, "e2e-stubbed", f"  db:\n    kind: postgres\n    image: {IMAGES['postgres']}\n"
                                              "  mail:\n    kind: mailpit\n    mode: stub\n")
    try:
        p.cli("up")
        states = {s["name"]: s for s in p.status()["services"]}
        assert states["db"]["state"] in ("ready", "running") and states["mail"]["state"] == "ready"
        pid = states["mail"]["pid"]
        env = p.env_file()
        send_mail(env, "to the stand-in")
        assert "to the stand-in" in inbox_subjects(env)
        assert set(p.health()) == {"db"}  # the stand-in is a host process, not a container
        p.cli("down", "--volumes")
        assert pid and process_gone(pid)
    finally:
        p.teardown()
    assert_nothing_left(p)


# -- errors: one line, with the fix ----------------------------------------------------------------

@pytest.fixture
def crashing_image(docker_engine, tmp_path):
    """An image whose process prints a reason and exits 3 (FROM a stand-in: builds in a second)."""
    tag = f"devstack-test/crash:e2e-{os.getpid()}"
    ctx = tmp_path / "crash-image"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {IMAGES['redis']}\n"
        'ENTRYPOINT ["sh", "-c", "echo \'FATAL: e2e crash test: cannot start\' >&2; exit 3", "--"]\n')
    subprocess.run(["docker", "build", "-q", "-t", tag, str(ctx)], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_crashing_container_fails_fast_with_its_logs(crashing_image, tmp_path):
    p = make_project(tmp_path, "e2e-crash", f"  cache:\n    kind: redis\n    image: {crashing_image}\n")
    try:
        started = time.monotonic()
        up = p.cli("up", check=False)
        assert up.returncode == 1, up.stderr
        assert time.monotonic() - started < 30
        assert "error: cache (redis) exited before it was ready: container" in up.stderr, up.stderr
        assert "last log lines of cache:" in up.stderr
        assert "FATAL: e2e crash test: cannot start" in up.stderr
        assert "hint: `devstack logs cache`" in up.stderr
        # what this run started is stopped again
        assert all("Up " not in status for status in p.health().values())
    finally:
        p.teardown()
    assert_nothing_left(p)


def test_port_taken_names_the_holder(docker_engine, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        p = make_project(tmp_path, "e2e-port", f"  cache:\n    kind: redis\n    image: {IMAGES['redis']}\n    port: {port}\n")
        try:
            up = p.cli("up", check=False)
            assert up.returncode == 2
            assert f"services.cache.port: port {port} is held by PID {os.getpid()} (" in up.stderr, up.stderr
            assert "hint: stop that program, or change `port:` in the manifest" in up.stderr
        finally:
            p.teardown()
    assert_nothing_left(p)


def test_port_taken_by_another_stacks_container(docker_engine, tmp_path):
    a = make_project(tmp_path, "e2e-holder", f"  cache:\n    kind: redis\n    image: {IMAGES['redis']}\n")
    try:
        a.cli("up", "--no-seed")
        port = a.env_file()["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
        b = make_project(tmp_path, "e2e-wants", f"  cache:\n    kind: redis\n    image: {IMAGES['redis']}\n    port: {port}\n")
        try:
            up = b.cli("up", check=False)
            assert up.returncode == 2
            assert f"port {port} is held by container devstack-e2e-holder-cache-1" in up.stderr, up.stderr
        finally:
            b.teardown()
    finally:
        a.teardown()
    assert_nothing_left(a)


def test_missing_image_that_cannot_be_pulled(docker_engine, tmp_path):
    p = make_project(tmp_path, "e2e-noimage", "  cache:\n    kind: redis\n    image: devstack-test/absent:1\n")
    try:
        up = p.cli("up", check=False)
        assert up.returncode == 2
        assert "error: image devstack-test/absent:1 not present and cannot be pulled" in up.stderr, up.stderr
        assert "set services.cache.image" in up.stderr
    finally:
        p.teardown()
    assert_nothing_left(p)


def test_engine_not_reachable(docker_engine, tmp_path):
    p = make_project(tmp_path, "e2e-noengine", f"  cache:\n    kind: redis\n    image: {IMAGES['redis']}\n",
                     env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    up = p.cli("up", check=False)
    assert up.returncode == 2
    assert f"error: cannot reach docker engine unix://{tmp_path}/no.sock (local via DOCKER_HOST)" in up.stderr, up.stderr
    assert "hint: start the engine" in up.stderr


# -- contexts and remote engines -------------------------------------------------------------------

def test_context_flag(docker_engine, tmp_path):
    name = f"devstack-e2e-{os.getpid()}"
    docker("context", "create", name, "--docker", "host=unix:///var/run/docker.sock")
    p = make_project(tmp_path, "e2e-context", f"  cache:\n    kind: redis\n    image: {IMAGES['redis']}\n", context=name)
    try:
        p.cli("up")
        status = p.status()
        assert status["where"] == f"docker context {name} (unix:///var/run/docker.sock, local)"
        assert status["services"][0]["state"] in ("ready", "running")
        assert redis_client(p.env_file()).ping()
        p.cli("down", "--volumes")
    finally:
        p.teardown()
        subprocess.run(["docker", "context", "rm", "-f", name], capture_output=True, check=False)
    assert_nothing_left(p)


def lan_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (the 'remote' engine's host)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


class EngineOverTcp:
    """Forwards tcp://<lan address>:<port> to the local engine's socket: an engine that looks remote."""

    def __init__(self, host: str, socket_path: str = "/var/run/docker.sock"):
        self.server = socket.create_server((host, 0))
        self.url = f"tcp://{host}:{self.server.getsockname()[1]}"
        self.socket_path = socket_path
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.socket_path)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


def test_remote_engine_outputs_point_at_the_engine_host(docker_engine, tmp_path):
    host = lan_address()
    if host is None:
        pytest.skip("no non-loopback IPv4 address to pose as a remote engine's host")
    engine = EngineOverTcp(host)
    p = make_project(tmp_path, "e2e-remote", FULL, SEEDS, env={"DOCKER_HOST": engine.url})
    try:
        p.cli("up")
        status = p.status()
        assert status["where"] == f"docker engine {engine.url} (remote via DOCKER_HOST)"
        env = p.env_file()
        assert f"@{host}:" in env["DATABASE_URL"] and env["SMTP_HOST"] == host
        assert "- 0.0.0.0:" in (p.root / ".devstack" / "compose.yaml").read_text()  # reachable on the engine's host
        assert pg_rows(env) == ["seeded"]
        assert redis_client(env).get("greeting") == b"hello"
        send_mail(env, "over the network")
        assert "over the network" in inbox_subjects(env)
        p.cli("down", "--volumes")
        assert_nothing_left(p)
    finally:
        p.teardown()
        engine.close()
    assert_nothing_left(p)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))


def test_start_events_report_a_real_containers_start(docker_engine):
    """What `up` gates each probe on: the engine's start event of the service's container."""
    from devstack.runtime import engine

    project = f"devstack-events-{os.getpid()}"
    started = threading.Event()
    names = []
    box = docker("create", "--label", f"com.docker.compose.project={project}", "--label", "com.docker.compose.service=db",
                 "--network", "none", IMAGES["redis"], "sleep", "30").strip()
    try:
        stream = engine.StartEvents(engine.resolve(), project, lambda name: (names.append(name), started.set()))
        try:
            docker("start", box)
            assert started.wait(10), "no start event within 10 s"
        finally:
            stream.close()
    finally:
        docker("rm", "-f", "--volumes", box)  # and the image's anonymous VOLUME
    assert names == ["db"]
