"""`devstack doctor` under Docker: the engine, compose, and an image the engine lacks.

Without an engine these tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.doctor.conftest import doctor, line

pytestmark = pytest.mark.docker


@pytest.fixture
def engine():
    from devstack.runtime.engine import engine_answers

    if not shutil.which("docker") or not engine_answers():
        reason = "no Docker engine answers (run .ci/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but {reason}", pytrace=False)
        pytest.skip(reason)


def test_missing_image_is_named_with_the_way_to_get_it(engine, project):
    image = "devstack-doctor-test/absent-redis:0.0.1"
    assert subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0
    stack = project(f"runtime: docker\nservices:\n  cache: {{kind: redis, image: '{image}'}}\n")
    code, out, findings = doctor(stack, env={"DEVSTACK_RUNTIME": "docker"})
    assert code == 1
    assert "compose plugin " in line(out, "ok", "runtime", "docker compose")
    assert "answers; ports on 127.0.0.1" in line(out, "ok", "runtime", "docker")
    found = line(out, "FAIL", "images", image)
    assert f"image {image} is not on the engine and cannot be pulled (" in found
    assert f"fix: `docker pull {image}` once its registry is reachable; or build or load it (`docker build -t {image} ...`" in found
    assert "set services.cache.image in the manifest to an image the engine has" in found
    assert [f["subject"] for f in findings if f["level"] == "fail"] == [image]
    assert not (stack.root / ".devstack").exists()  # nothing written under Docker either
