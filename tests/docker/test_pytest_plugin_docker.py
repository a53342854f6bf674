"""The pytest plugin's Docker runtime: the example app's suite on containers started
through testcontainers, serially and with xdist, and nothing left when pytest is killed.

Stand-in images as in test_docker_e2e.py (no registry here); Ryuk's image is
absent, so the session's watcher is what removes the containers.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.docker.test_docker_e2e import IMAGES, docker_engine  # noqa: F401 - the fixture
from tests.test_pytest_plugin import EXAMPLE_TESTS, SMALL, assert_clean, copy_example, run_example, start_and_kill

pytestmark = pytest.mark.docker
pytest_plugins = ["pytester"]

NO_TURN = "--deselect=tests/test_integrations.py::test_turn_credentials_allocate_a_relay"  # no coturn image here


def session_containers(project: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--filter", "label=dev.devstack.session", "--format",
                          '{{.Label "dev.devstack.session"}} {{.Names}}'], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith(f"{project}-test-")]


def docker_example(root: Path) -> Path:
    """The example app with its servers in containers (stand-in images) and the rest as devstack's stand-ins."""
    copy_example(root)
    manifest = root / "devstack.yaml"
    data = yaml.safe_load(manifest.read_text())
    data["runtime"] = "docker"
    services = data["services"]
    services["db"]["image"] = IMAGES["postgres"]
    services["cache"]["image"] = IMAGES["redis"]
    services["mail"] = {"kind": "mailpit", "image": IMAGES["mailpit"]}
    services["s3"]["mode"] = "stub"  # stripe stays `mode: run`: its emulator is a host process beside the containers
    services["turn"]["mode"] = "off"
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def test_example_suite_on_containers_serially(pytester, docker_engine):  # noqa: F811
    docker_example(pytester.path)
    result = run_example(pytester, NO_TURN)
    result.assert_outcomes(passed=EXAMPLE_TESTS - 1, deselected=1)
    assert "through testcontainers" in result.stderr.str()
    assert session_containers("example-app") == []
    assert_clean(pytester.path)


def test_example_suite_on_containers_with_two_workers(pytester, docker_engine):  # noqa: F811
    docker_example(pytester.path)
    result = run_example(pytester, NO_TURN, "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=EXAMPLE_TESTS - 1)  # (xdist reports no deselected count)
    assert session_containers("example-app") == []
    assert_clean(pytester.path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_pytest_leaves_no_container(tmp_path, docker_engine, sig):  # noqa: F811
    manifest = yaml.safe_load(SMALL)
    manifest["runtime"] = "docker"
    manifest["services"]["db"]["image"] = IMAGES["postgres"]
    manifest["services"]["cache"]["image"] = IMAGES["redis"]
    (tmp_path / "devstack.yaml").write_text(yaml.safe_dump(manifest))
    (tmp_path / "seed.sql").write_text("CREATE TABLE t (x int);\n")
    name, seconds = start_and_kill(tmp_path, sig)
    assert name.startswith("small-test-") and seconds < 15
    assert session_containers("small") == []
    assert_clean(tmp_path)
