"""DockerRuntime without an engine: the python-on-whales calls it makes (arguments) for every command,
the docker command lines they become, engine resolution (DOCKER_HOST, contexts) and error mapping.

Mocks stand in for python-on-whales' DockerClient only to record arguments; the
argv-level tests run the real python-on-whales against a fake `docker` executable.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import textwrap
from pathlib import Path
from unittest import mock

import pytest

from devstack import manifest as manifest_mod
from devstack import plan as plan_mod
from devstack.errors import ServiceFailed, UserError
from devstack.runtime import docker as dk
from devstack.runtime import docker_errors as dk_errors
from devstack.runtime import engine

MANIFEST = """\
project: Shop.App
runtime: docker
services:
  db:
    kind: postgres
    image: devstack-test/postgres:15
    port: 25432
  cache:
    kind: redis
    image: devstack-test/redis:7
    port: 26379
  mail:
    kind: mailpit
    mode: off
"""


@pytest.fixture(autouse=True)
def clean_docker_env(tmp_path, monkeypatch):
    """No DOCKER_HOST / DOCKER_CONTEXT of the machine, and a private docker config dir."""
    for var in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return config


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """A `docker` executable first on PATH: logs its argv (one JSON list a line) and answers
    FAKE_DOCKER_STDOUT / FAKE_DOCKER_STDERR with exit code FAKE_DOCKER_RC."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "docker-argv.log"
    script = bindir / "docker"
    script.write_text(textwrap.dedent(f"""\
        #!{os.environ.get("SHELL_FOR_TESTS", "/bin/sh")}
        python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@" >> {log}
        printf '%s' "${{FAKE_DOCKER_STDOUT:-}}"
        printf '%s' "${{FAKE_DOCKER_STDERR:-}}" >&2
        exit "${{FAKE_DOCKER_RC:-0}}"
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    # `up` runs an installed compose plugin directly; here every call goes through this docker.
    monkeypatch.setattr(dk.engine_mod, "compose_plugin", lambda: None)

    class Fake:
        path = str(script)

        @staticmethod
        def calls() -> list[list[str]]:
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

        @staticmethod
        def answer(stdout: str = "", stderr: str = "", rc: int = 0):
            monkeypatch.setenv("FAKE_DOCKER_STDOUT", stdout)
            monkeypatch.setenv("FAKE_DOCKER_STDERR", stderr)
            monkeypatch.setenv("FAKE_DOCKER_RC", str(rc))

    return Fake


PLUGIN_LOOKUP = dk.engine_mod.compose_plugin  # the real one (fake_docker swaps it out)


@pytest.fixture
def plan(tmp_path):
    root = tmp_path / "shop"
    root.mkdir()
    (root / "devstack.yaml").write_text(MANIFEST)
    return plan_mod.build(manifest_mod.load(root / "devstack.yaml"))


class Recorder:
    """Stands in for python_on_whales.DockerClient: records constructor kwargs; method calls go to `client`."""

    def __init__(self):
        self.client = mock.MagicMock(name="DockerClient()")
        self.made: list[dict] = []

    def __call__(self, **kwargs):
        self.made.append(kwargs)
        return self.client


def box(service, status="running", health="healthy", id=None, restarts=0, exit_code=0):
    return dk.Box(service, id or f"id-{service}", f"devstack-shop-app-{service}-1", status, health,
                  exit_code=exit_code, restarts=restarts, image=f"img/{service}")


def runtime(context=None, boxes=None):
    rec = Recorder()
    rt = dk.DockerRuntime(context=context, client_factory=rec)
    if boxes is not None:
        rt.boxes = mock.MagicMock(return_value=boxes)
    return rt, rec


@pytest.fixture
def no_probes(monkeypatch):
    """Readiness is the kinds' business (tested elsewhere): here it passes at once."""
    waited = []
    monkeypatch.setattr(dk.DockerRuntime, "_wait_ready", lambda self, plan, services, progress, watch: waited.append([s.name for s in services]) or {})
    monkeypatch.setattr(dk, "warm_up", lambda services, plan: None)
    monkeypatch.setattr(dk, "check_ports", lambda *a, **k: None)
    return waited


def docker_exc(stderr: str, rc: int = 1, cmd=("docker", "compose", "up")):
    from python_on_whales.exceptions import DockerException

    return DockerException(list(cmd), rc, b"", stderr.encode())


# -- the client: compose file, project name, context ---------------------------------------------

def test_client_gets_compose_file_and_project_name(plan):
    rt, rec = runtime()
    rt.client(plan)
    assert rec.made == [{"compose_files": [str(plan.root / ".devstack" / "compose.yaml")],
                         "compose_project_name": "devstack-shop-app"}]


def test_client_gets_the_context(plan):
    rt, rec = runtime(context="buildbox")
    rt.client(plan)
    rt.client()
    assert rec.made == [{"context": "buildbox", "compose_files": [str(plan.compose_file)], "compose_project_name": "devstack-shop-app"},
                        {"context": "buildbox"}]


# -- up ------------------------------------------------------------------------------------------

def test_up_runs_compose_up_detached_without_wait_and_probes(plan, no_probes):
    rt, rec = runtime(boxes={})
    lines = []
    started = rt.up(plan, lines.append)
    rec.client.compose.up.assert_called_once_with(detach=True, wait=False, quiet=True, remove_orphans=True, pull="never")
    assert started == ["db", "cache"]  # mode: off runs nothing
    assert no_probes == [["db", "cache"]]
    assert any("starting db, cache" in line for line in lines)
    state = json.loads((plan.state_dir / "docker.json").read_text())
    assert state["compose_sha256"] == hashlib.sha256(plan.compose_file.read_bytes()).hexdigest()


def test_up_writes_the_compose_file_bound_to_loopback_for_a_local_engine(plan, no_probes):
    rt, _ = runtime(boxes={})
    rt.up(plan, lambda m: None)
    text = plan.compose_file.read_text()
    assert "127.0.0.1:25432:5432" in text and "0.0.0.0" not in text


def test_up_binds_all_interfaces_on_a_remote_engine(plan, no_probes, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    rt, _ = runtime(boxes={})
    assert rt.public_host() == "10.0.0.5" and rt.bind_address() == "0.0.0.0"
    rt.up(plan, lambda m: None)
    assert "0.0.0.0:25432:5432" in plan.compose_file.read_text()


def test_up_is_idempotent_when_everything_runs_with_this_file(plan, no_probes):
    rt, _ = runtime(boxes={})
    rt.up(plan, lambda m: None)
    rt2, rec2 = runtime(boxes={"db": box("db"), "cache": box("cache")})
    assert rt2.up(plan, lambda m: None) == []
    rec2.client.compose.up.assert_not_called()
    assert no_probes[-1] == ["db", "cache"]  # still proven to answer


def test_up_starts_only_what_is_not_running(plan, no_probes):
    rt, _ = runtime(boxes={})
    rt.up(plan, lambda m: None)
    rt2, rec2 = runtime(boxes={"db": box("db"), "cache": box("cache", status="exited", health=None)})
    assert rt2.up(plan, lambda m: None) == ["cache"]
    rec2.client.compose.up.assert_called_once()


def test_up_with_a_changed_file_reports_recreated_containers(plan, no_probes):
    rt, _ = runtime()
    rt._recent_boxes = mock.MagicMock(return_value={"db": box("db", id="old"), "cache": box("cache")})  # before up
    rt.boxes = mock.MagicMock(return_value={"db": box("db", id="new"), "cache": box("cache")})  # after compose
    assert rt.up(plan, lambda m: None) == ["db"]  # no docker.json yet: the file counts as changed


def test_up_failure_of_compose_stops_what_it_started_and_says_why(plan, no_probes, monkeypatch):
    rt, rec = runtime(boxes={})
    monkeypatch.setattr(dk_errors, "holder", lambda port, rt=None: "process nginx (pid 4242)")
    rec.client.compose.up.side_effect = docker_exc(
        "Error response from daemon: driver failed programming external connectivity on endpoint x: "
        "Bind for 127.0.0.1:25432 failed: port is already allocated")
    with pytest.raises(UserError) as err:
        rt.up(plan, lambda m: None)
    assert err.value.message == "port 25432 (wanted by db.port) is already taken by process nginx (pid 4242)"
    assert "services.db.port" in err.value.hint
    rec.client.compose.stop.assert_called_once_with(services=["db", "cache"], timeout=5)


def test_up_pulls_a_missing_image_once_then_retries(plan, no_probes, monkeypatch):
    rt, rec = runtime(boxes={})
    rec.client.compose.up.side_effect = [docker_exc("Error response from daemon: no such image: devstack-test/redis:7: No such image: devstack-test/redis:7"), None]
    monkeypatch.setattr(dk.DockerRuntime, "absent_images", lambda self, plan: ["devstack-test/redis:7"])
    lines = []
    assert rt.up(plan, lines.append) == ["db", "cache"]
    rec.client.image.pull.assert_called_once_with("devstack-test/redis:7", quiet=True)
    assert rec.client.compose.up.call_count == 2
    assert "  pulling devstack-test/redis:7 ..." in lines


def test_up_image_that_cannot_be_pulled(plan, no_probes, monkeypatch):
    rt, rec = runtime(boxes={})
    rec.client.compose.up.side_effect = docker_exc("no such image: devstack-test/redis:7: No such image: devstack-test/redis:7")
    rec.client.image.pull.side_effect = docker_exc(
        'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host')
    monkeypatch.setattr(dk.DockerRuntime, "absent_images", lambda self, plan: ["devstack-test/redis:7"])
    with pytest.raises(UserError) as err:
        rt.up(plan, lambda m: None)
    assert err.value.message.startswith("image devstack-test/redis:7 not present and cannot be pulled (")
    assert "services.cache.image" in err.value.hint and "build" in err.value.hint


def test_up_unhealthy_service_fails_with_its_last_log_lines(plan, monkeypatch):
    monkeypatch.setattr(dk, "warm_up", lambda services, plan: None)
    monkeypatch.setattr(dk, "check_ports", lambda *a, **k: None)
    rt, rec = runtime(boxes={})
    rec.client.compose.logs.return_value = "\x1b[2Kinitdb: error: out of disk\nFATAL: could not start\n"

    def wait(self, plan, services, progress, watch):
        raise ServiceFailed("db (postgres) exited before it was ready: container exited (exit code 1)")

    monkeypatch.setattr(dk.DockerRuntime, "_wait_ready", wait)
    with pytest.raises(ServiceFailed) as err:
        rt.up(plan, lambda m: None)
    message = err.value.message
    assert message.startswith("db (postgres) exited before it was ready: container exited (exit code 1); last log lines of db:")
    assert "    initdb: error: out of disk" in message and "\x1b" not in message
    assert err.value.hint.startswith("`devstack logs db`")
    rec.client.compose.logs.assert_called_once_with(services=["db"], tail="15", no_log_prefix=True)
    rec.client.compose.stop.assert_called_once_with(services=["db", "cache"], timeout=5)


def test_up_checks_ports_of_new_containers_on_a_local_engine(plan, monkeypatch):
    import socket

    rt, rec = runtime(boxes={})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = plan.services["db"].ports["port"] = sock.getsockname()[1]
        with pytest.raises(UserError) as err:
            rt.up(plan, lambda m: None)
    assert err.value.message.startswith(f"port {port} (wanted by db.port) is already taken by PID {os.getpid()} (")
    rec.client.compose.up.assert_not_called()


# -- down ----------------------------------------------------------------------------------------

def test_down_keeps_volumes_and_removes_leftover_networks(plan):
    rt, rec = runtime()
    rec.client.network.list.return_value = ["devstack-shop-app_default"]  # from a file rendered before `bridge`
    rt.down(plan, False, lambda m: None)
    rec.client.compose.down.assert_called_once_with(volumes=False, remove_orphans=True, timeout=10, quiet=True)
    rec.client.volume.list.assert_not_called()
    rec.client.network.list.assert_called_once_with(filters=[("label", "com.docker.compose.project=devstack-shop-app")])
    rec.client.network.remove.assert_called_once_with(["devstack-shop-app_default"])
    assert plan.compose_file.exists()  # down works even before any up rendered it


def test_down_volumes_removes_them_and_any_leftovers_of_the_project(plan):
    rt, rec = runtime()
    rec.client.volume.list.return_value = ["devstack-shop-app_old-data"]
    rec.client.network.list.return_value = []
    rt.down(plan, True, lambda m: None)
    rec.client.compose.down.assert_called_once_with(volumes=True, remove_orphans=True, timeout=10, quiet=True)
    label = [("label", "com.docker.compose.project=devstack-shop-app")]
    rec.client.volume.list.assert_called_once_with(filters=label)
    rec.client.volume.remove.assert_called_once_with(["devstack-shop-app_old-data"])
    rec.client.network.list.assert_called_once_with(filters=label)
    rec.client.network.remove.assert_not_called()


def test_down_engine_unreachable_is_one_line_with_the_fix(plan):
    rt, rec = runtime()
    rec.client.compose.down.side_effect = docker_exc("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
    with pytest.raises(UserError) as err:
        rt.down(plan, False, lambda m: None)
    assert err.value.message == ("cannot reach docker engine unix:///var/run/docker.sock (local): Cannot connect to the Docker daemon "
                                 "at unix:///var/run/docker.sock. Is the docker daemon running?")
    assert "start the engine" in err.value.hint


# -- status / state ---------------------------------------------------------------------------------

INSPECT = [
    {"Id": "a1", "Name": "/devstack-shop-app-db-1", "RestartCount": 0,
     "State": {"Status": "running", "ExitCode": 0, "Health": {"Status": "healthy", "Log": [{"Output": "ok\n"}]}},
     "Config": {"Image": "devstack-test/postgres:15", "Labels": {"com.docker.compose.service": "db"}},
     "NetworkSettings": {"Ports": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "25432"}]}}},
    {"Id": "b2", "Name": "/devstack-shop-app-cache-1", "RestartCount": 3,
     "State": {"Status": "restarting", "ExitCode": 1, "Health": {"Status": "unhealthy", "Log": [{"Output": "NOAUTH\n"}]}},
     "Config": {"Image": "devstack-test/redis:7", "Labels": {"com.docker.compose.service": "cache"}}},
]


def test_status_lists_the_project_containers_and_inspects_them_at_once(plan, monkeypatch):
    rt, rec = runtime()
    rec.client.container.list.return_value = [mock.Mock(id="a1"), mock.Mock(id="b2")]
    docker_calls = []
    monkeypatch.setattr(dk.DockerRuntime, "_docker", lambda self, client, *args: docker_calls.append(args) or json.dumps(INSPECT))
    states = {s.name: s for s in rt.status(plan)}
    rec.client.container.list.assert_called_once_with(all=True, filters=[("label", "com.docker.compose.project=devstack-shop-app")])
    assert docker_calls == [("container", "inspect", "a1", "b2")]
    assert states["db"].state == "ready" and states["db"].detail == "127.0.0.1:25432 devstack-test/postgres:15 (healthy)"
    assert states["cache"].state == "dead" and "keeps restarting" in states["cache"].detail
    assert states["mail"].state == "off"


def test_status_of_a_stack_that_is_down(plan):
    rt, rec = runtime()
    rec.client.container.list.return_value = []
    states = {s.name: s.state for s in rt.status(plan)}
    assert states == {"db": "stopped", "cache": "stopped", "mail": "off"}


def test_a_local_engine_is_asked_over_its_socket(plan, monkeypatch):
    rt = dk.DockerRuntime()
    seen = []

    def api_get(endpoint, path, timeout=5.0):
        seen.append(path)
        if path.startswith("/containers/json"):
            return [{"Id": "a1"}]
        return INSPECT[0]

    monkeypatch.setattr(engine, "api_get", api_get)
    boxes = rt.boxes(plan)
    assert boxes["db"].running and boxes["db"].health == "healthy" and boxes["db"].ports == ["127.0.0.1:25432->5432/tcp"]
    assert seen[0].startswith("/containers/json?all=1&filters=") and "devstack-shop-app" in seen[0]
    assert seen[1] == "/containers/a1/json"
    assert rt.running_services(plan) == {"db"}


def test_socket_trouble_falls_back_to_the_cli(plan, fake_docker, monkeypatch):
    def api_get(endpoint, path, timeout=5.0):
        raise OSError("no socket")

    monkeypatch.setattr(engine, "api_get", api_get)
    fake_docker.answer(stdout="")
    assert dk.DockerRuntime().boxes(plan) == {}
    assert fake_docker.calls()[0][:2] == ["container", "list"]


# -- logs ----------------------------------------------------------------------------------------

def test_logs_streams_compose_logs_of_one_service(plan, capfdbinary):
    rt, rec = runtime(boxes={"db": box("db")})
    rec.client.compose.logs.return_value = iter([("stdout", b"\x1b[2Khello\n"), ("stderr", b"oops\n")])
    rt.logs(plan, "db", True, 50)
    rec.client.compose.logs.assert_called_once_with(services=["db"], tail="50", follow=True, no_log_prefix=True, stream=True)
    out = capfdbinary.readouterr()
    assert out.out == b"hello\n" and out.err == b"oops\n"


def test_logs_of_a_service_without_container(plan):
    rt, _ = runtime(boxes={})
    with pytest.raises(UserError, match="db has no container"):
        rt.logs(plan, "db", False, 10)
    with pytest.raises(UserError, match=r"mail runs nothing here \(mode: off\)"):
        rt.logs(plan, "mail", False, 10)


# -- the command lines python-on-whales runs ------------------------------------------------------

def real_runtime(context=None):
    return dk.DockerRuntime(context=context)


def test_argv_of_every_command(plan, fake_docker):
    rt = real_runtime(context="buildbox")
    compose = [fake_docker.path, "--context", "buildbox", "compose", "--file", str(plan.compose_file), "--project-name", "devstack-shop-app"]
    client = rt.client(plan)
    client.compose.up(**dk.UP_KWARGS)
    client.compose.down(volumes=True, remove_orphans=True, timeout=10, quiet=True)
    client.compose.down(volumes=False, remove_orphans=True, timeout=10, quiet=True)
    client.compose.stop(services=["db"], timeout=5)
    client.compose.logs(services=["db"], tail="15", no_log_prefix=True)
    list(client.compose.logs(services=["db"], tail="100", follow=True, no_log_prefix=True, stream=True))
    calls = [[fake_docker.path] + c for c in fake_docker.calls()]
    assert calls == [
        compose + ["up", "--detach", "--remove-orphans", "--pull", "never"],
        compose + ["down", "--remove-orphans", "--timeout", "10", "--volumes"],
        compose + ["down", "--remove-orphans", "--timeout", "10"],
        compose + ["stop", "--timeout", "5", "db"],
        compose + ["logs", "--no-color", "--tail", "15", "--no-log-prefix", "db"],
        compose + ["logs", "--no-color", "--tail", "100", "--follow", "--no-log-prefix", "db"],
    ]


def test_fast_compose_up_runs_exactly_what_python_on_whales_would(plan, fake_docker):
    """`up` starts compose before python-on-whales is loaded: it must be the very same command."""
    rt = real_runtime(context="buildbox")
    rt.client(plan).compose.up(**dk.UP_KWARGS)
    (pow_argv,) = fake_docker.calls()
    assert [fake_docker.path] + pow_argv == rt.compose_argv(plan, *dk.UP_ARGS)


def test_fast_compose_up_failure_is_mapped_like_any_other(plan, fake_docker, monkeypatch):
    rt = real_runtime()
    monkeypatch.setattr(dk.DockerRuntime, "_pow_loaded", staticmethod(lambda: False))
    fake_docker.answer(stderr="docker: 'compose' is not a docker command.\nSee 'docker --help'\n", rc=1)
    wait = rt._start_compose_up(plan)
    with pytest.raises(UserError) as err:
        rt._run("start containers", wait, plan)
    assert err.value.message.startswith("the docker compose v2 plugin is missing")
    assert [fake_docker.path] + fake_docker.calls()[0] == rt.compose_argv(plan, *dk.UP_ARGS)


def test_fast_compose_up_runs_the_plugin_binary_itself_when_installed(plan, fake_docker, monkeypatch, tmp_path):
    """With the compose plugin found where the docker CLI looks, `up` execs it directly
    (the CLI's start-up skipped), with the same flags and DOCKER_HOST pinned."""
    config = tmp_path / "docker-config"
    plugin = config / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(f"#!/bin/sh\necho \"$DOCKER_HOST $*\" > {tmp_path / 'plugin.log'}\n")
    plugin.chmod(0o755)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(dk.engine_mod, "compose_plugin", PLUGIN_LOOKUP)
    monkeypatch.setattr(dk.DockerRuntime, "_pow_loaded", staticmethod(lambda: False))
    rt = real_runtime()
    rt._run("start containers", rt._start_compose_up(plan), plan)
    expected = rt.compose_argv(plan, *dk.UP_ARGS)[2:]  # what follows `docker compose`
    assert (tmp_path / "plugin.log").read_text().split() == ["unix:///var/run/docker.sock", *expected]
    assert fake_docker.calls() == []


def test_container_state_argv(plan, fake_docker, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")  # remote: through python-on-whales
    rt = real_runtime()
    fake_docker.answer(stdout="")
    assert rt.boxes(plan) == {}
    assert fake_docker.calls() == [["container", "list", "-q", "--no-trunc", "--all", "--filter",
                                    "label=com.docker.compose.project=devstack-shop-app"]]


def test_docker_cli_missing(plan, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rt = real_runtime()
    with pytest.raises(UserError) as err:
        rt.down(plan, False, lambda m: None)
    assert err.value.message == "the docker CLI is not installed (no `docker` on PATH)"
    assert "--runtime native" in err.value.hint


# -- engine: DOCKER_HOST, contexts, where ---------------------------------------------------------

def make_context(config: Path, name: str, host: str) -> None:
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))


def test_local_socket_by_default():
    rt = dk.DockerRuntime()
    assert rt.where() == "docker engine unix:///var/run/docker.sock (local)"
    assert rt.public_host() == "127.0.0.1" and rt.bind_address() == "127.0.0.1"


@pytest.mark.parametrize("host, public, remote", [
    ("tcp://10.0.0.5:2376", "10.0.0.5", True),
    ("ssh://dev@buildbox.lan", "buildbox.lan", True),
    ("ssh://dev@buildbox.lan:2222", "buildbox.lan", True),
    ("tcp://127.0.0.1:2375", "127.0.0.1", False),
    ("tcp://localhost:2375", "127.0.0.1", False),
    ("unix:///run/user/1000/docker.sock", "127.0.0.1", False),
])
def test_docker_host(monkeypatch, host, public, remote):
    monkeypatch.setenv("DOCKER_HOST", host)
    rt = dk.DockerRuntime()
    assert rt.public_host() == public
    assert rt.endpoint.remote is remote
    assert rt.where() == f"docker engine {host} ({'remote' if remote else 'local'} via DOCKER_HOST)"


def test_context_flag_beats_docker_host(clean_docker_env, monkeypatch):
    make_context(clean_docker_env, "buildbox", "tcp://10.0.0.5:2376")
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.9.9.9:2376")
    rt = dk.DockerRuntime(context="buildbox")
    assert rt.where() == "docker context buildbox (tcp://10.0.0.5:2376, remote)"
    assert rt.public_host() == "10.0.0.5"


def test_docker_context_env_and_current_context(clean_docker_env, monkeypatch):
    make_context(clean_docker_env, "ci", "ssh://ci@runner")
    make_context(clean_docker_env, "lab", "tcp://192.168.1.20:2375")
    (clean_docker_env / "config.json").write_text(json.dumps({"currentContext": "lab"}))
    assert dk.DockerRuntime().public_host() == "192.168.1.20"
    monkeypatch.setenv("DOCKER_CONTEXT", "ci")
    assert dk.DockerRuntime().where() == "docker context ci (ssh://ci@runner, remote)"
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")  # DOCKER_HOST beats DOCKER_CONTEXT
    assert dk.DockerRuntime().public_host() == "127.0.0.1"


def test_unknown_context():
    with pytest.raises(UserError) as err:
        dk.DockerRuntime(context="nope").where()
    assert err.value.message == "docker context `nope` does not exist"
    assert "docker context ls" in err.value.hint


# -- error mapping: one line, with the fix ---------------------------------------------------------

@pytest.mark.parametrize("text, starts", [
    ("docker: 'compose' is not a docker command.\nSee 'docker --help'", "the docker compose v2 plugin is missing"),
    ("docker: unknown command: docker compose\n\nRun 'docker --help' for more information", "the docker compose v2 plugin is missing"),
    ("Cannot connect to the Docker daemon at tcp://10.0.0.5:2376. Is the docker daemon running?", "cannot reach docker engine"),
    (("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get ...: "
      "dial unix /var/run/docker.sock: connect: permission denied"), "not allowed to talk to docker engine"),
    (("error during connect: Get \"http://docker.example/v1.41/containers/json\": ssh: connect to host box port 22: "
      "Connection refused"), "cannot reach docker engine"),
    ((" Container x-db-1  Starting\nError response from daemon: driver failed programming external connectivity on endpoint "
      "x-db-1 (f00): Error starting userland proxy: listen tcp4 127.0.0.1:26379: bind: address already in use"),
     "port 26379 (wanted by cache.port) is already taken"),
    ("Error response from daemon: something odd happened\n", "start containers failed: something odd happened"),
])
def test_explain(plan, text, starts, monkeypatch):
    monkeypatch.setattr(dk, "holder", lambda port, rt=None: "")
    err = dk.explain(text, "start containers", dk.DockerRuntime(), plan)
    assert err.message.startswith(starts)
    assert "\n" not in err.message and err.hint


def test_explain_image_missing_names_the_image(plan, monkeypatch):
    monkeypatch.setattr(dk.DockerRuntime, "absent_images", lambda self, plan: ["devstack-test/postgres:15"])
    err = dk.explain("Error response from daemon: no such image: devstack-test/postgres:15: No such image: devstack-test/postgres:15",
                     "start containers", dk.DockerRuntime(), plan)
    assert isinstance(err, dk.ImageMissing) and err.images == ["devstack-test/postgres:15"]


def test_absent_images_asks_once(plan, fake_docker):
    fake_docker.answer(stdout="sha256:1\n", stderr="Error: No such image: devstack-test/redis:7\n", rc=1)
    assert dk.DockerRuntime().absent_images(plan) == ["devstack-test/redis:7"]
    assert fake_docker.calls() == [["image", "inspect", "--format", "{{.Id}}", "devstack-test/postgres:15", "devstack-test/redis:7"]]


def test_port_holder_names_the_process():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        found = dk.holder(sock.getsockname()[1])
    assert found.startswith(f"PID {os.getpid()} (")


# -- container trouble ------------------------------------------------------------------------------

@pytest.mark.parametrize("b, trouble", [
    (box("db"), None),
    (box("db", health="starting"), None),
    (box("db", status="created", health=None), None),
    (box("db", status="exited", health=None, exit_code=1), "container exited (exit code 1)"),
    (box("db", status="restarting", exit_code=2), "container keeps restarting (last exit code 2)"),
    (box("db", restarts=1, exit_code=2), "container keeps restarting (last exit code 2)"),
    (box("db", health="unhealthy"), "container unhealthy"),
])
def test_box_trouble(b, trouble):
    assert dk.box_trouble(b) == trouble


def test_watch_judges_nothing_before_compose_is_done(plan):
    rt, _ = runtime(boxes={"db": box("db", status="exited", health=None, exit_code=1)})
    watch = dk._Watch(rt, plan)
    watch.grace = watch.every = 0
    check = watch.alive_check("db")
    assert check() is None  # compose still working: an old exited container is about to be replaced
    watch.compose_finished()
    assert check() == "container exited (exit code 1)"
    watch.cancel("port taken")
    assert check() == "not started: port taken"


def test_watch_counts_restarts_of_new_containers_only(plan):
    rt, _ = runtime(boxes={"db": box("db", id="new", restarts=1, exit_code=3)})
    watch = dk._Watch(rt, plan, previous={"db": box("db", id="old", restarts=5)})
    watch.grace = watch.every = 0
    watch.compose_finished()
    assert watch.alive_check("db")() == "container keeps restarting (last exit code 3)"

    rt, _ = runtime(boxes={"db": box("db", id="same", restarts=5)})
    watch = dk._Watch(rt, plan, previous={"db": box("db", id="same", restarts=5)})
    watch.grace = watch.every = 0
    watch.compose_finished()
    assert watch.alive_check("db")() is None  # restarted before this run: not held against it


class FakeStubs:
    """Stands in for NativeRuntime(stubs_only=True)."""

    def __init__(self, running=(), fail=False):
        self.running, self.fail, self.calls = set(running), fail, []

    def running_services(self, plan):
        return set(self.running)

    def up(self, plan, progress):
        self.calls.append("up")
        if self.fail:
            raise ServiceFailed("mail (mailpit) exited before it was ready: boom")
        return ["mail"]

    def down(self, plan, volumes, progress):
        self.calls.append(("down", volumes))


@pytest.fixture
def stub_plan(tmp_path):
    root = tmp_path / "stubbed"
    root.mkdir()
    (root / "devstack.yaml").write_text(MANIFEST.replace("    mode: off", "    mode: stub"))
    return plan_mod.build(manifest_mod.load(root / "devstack.yaml"))


def test_stubs_start_beside_the_containers(stub_plan, no_probes):
    rt, _ = runtime(boxes={})
    rt._stubs_rt = stubs = FakeStubs()
    assert sorted(rt.up(stub_plan, lambda m: None)) == ["cache", "db", "mail"]
    assert stubs.calls == ["up"]
    assert "mail" not in compose_services(stub_plan.compose_file)  # stand-ins are host processes, not containers


def compose_services(compose_file):
    import yaml

    return yaml.safe_load(compose_file.read_text())["services"]


def test_container_failure_stops_the_stubs_this_call_started(stub_plan, no_probes):
    rt, rec = runtime(boxes={})
    rt._stubs_rt = stubs = FakeStubs()
    rec.client.compose.up.side_effect = docker_exc("Error response from daemon: something odd happened")
    with pytest.raises(UserError, match="something odd happened"):
        rt.up(stub_plan, lambda m: None)
    assert stubs.calls == ["up", ("down", False)]


def test_stub_failure_stops_the_containers_this_call_started(stub_plan, no_probes):
    rt, rec = runtime(boxes={})
    rt._stubs_rt = FakeStubs(fail=True)
    with pytest.raises(ServiceFailed, match="mail"):
        rt.up(stub_plan, lambda m: None)
    rec.client.compose.stop.assert_called_once_with(services=["db", "cache"], timeout=5)


def test_down_stops_stubs_and_containers(stub_plan):
    rt, rec = runtime()
    rt._stubs_rt = stubs = FakeStubs()
    rt.down(stub_plan, True, lambda m: None)
    assert stubs.calls == [("down", True)]
    rec.client.compose.down.assert_called_once_with(volumes=True, remove_orphans=True, timeout=10, quiet=True)
