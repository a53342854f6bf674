"""The README's first command on a machine with no Docker engine: `devstack up`
on the Rail Gun example brings the whole stack up as local processes."""

from __future__ import annotations

import shutil
import urllib.request

from tests.conftest import ROOT
from tests.runtime.conftest import finish, make_stack, needs_servers

pytestmark = needs_servers


def test_railgun_up_from_a_fresh_copy_with_no_docker_engine(tmp_path, devstack_home):
    project = tmp_path / "railgun"
    shutil.copytree(ROOT / "fixtures" / "railgun", project, ignore=shutil.ignore_patterns(".devstack", ".env"))
    stack = make_stack(project, devstack_home, (project / "devstack.yaml").read_text())
    no_engine = {"DEVSTACK_RUNTIME": "", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    try:
        result = stack.cli("up", env=no_engine, timeout=180)  # as the README runs it: seeds too
        assert "railgun on native" in result.stderr and "ready in" in result.stderr
        env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines() if "=" in line and not line.startswith("#"))
        assert env["DATABASE_URL"].startswith("postgresql://railgun:") and env["ANALYTICS_ENABLED"] == "false"
        states = stack.status()
        running = {n: s["state"] for n, s in states.items() if s["mode"] != "off"}
        assert set(running.values()) == {"ready"}, running
        assert states["analytics"]["state"] == "off"
        assert "already up" in stack.cli("up", env=no_engine).stderr
        # the seeded assets, as the app's pages link them: anonymous GETs under CDN_BASE_URL
        with urllib.request.urlopen(env["CDN_BASE_URL"] + "/community-icons/synthwave.png", timeout=10) as response:
            assert response.status == 200 and response.read() == (project / "seed/s3/railgun-assets/community-icons/synthwave.png").read_bytes()
            assert response.headers["Content-Type"] == "image/png"
    finally:
        finish(stack)
