"""The example manifests: every variable their documents name, and a compose file compose accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLES = ["railgun", "drone-school", "between-sessions"]


def expected_names(name: str) -> list[str]:
    lines = (ROOT / "fixtures" / name / "expected-env.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def dotenv_names(path: Path) -> set[str]:
    return {line.split("=", 1)[0] for line in path.read_text().splitlines() if "=" in line and not line.startswith("#")}


def compose_plugin() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.parametrize("name", EXAMPLES)
def test_env_has_every_variable_the_document_names(name, example, cli):
    project = example(name)
    cli("render", cwd=project, check=True)
    written = dotenv_names(project / ".env")
    missing = [v for v in expected_names(name) if v not in written]
    assert not missing, f"{name}: .env lacks {missing}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_rendered_compose_passes_docker_compose_config(name, example, cli):
    if not compose_plugin():
        if os.environ.get("CI") == "true":
            pytest.fail("docker compose v2 plugin missing in CI (.ci/install-docker.sh installs it)")
        pytest.skip("docker compose v2 plugin not installed")
    project = example(name)
    cli("render", cwd=project, check=True)
    result = subprocess.run(["docker", "compose", "-f", str(project / ".devstack" / "compose.yaml"), "config", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_env_command_prints_the_same_values_as_dotenv(example, cli):
    project = example("railgun")
    cli("render", cwd=project, check=True)
    printed = cli("env", "--format", "json", cwd=project, check=True).stdout
    import json

    values = json.loads(printed)
    assert values["DATABASE_URL"].startswith("postgresql://railgun:")
    assert set(values) == dotenv_names(project / ".env")
