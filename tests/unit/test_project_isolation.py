"""An isolated stack of a manifest (a test session's): its own name, state dir, .env, ports and data key."""

from __future__ import annotations

import json
import os
from pathlib import Path

from devstack.project import Project
from devstack.runtime.host import project_key

MANIFEST = """\
project: shop
services:
  db: {kind: postgres}
  cache: {kind: redis}
  s3: {kind: minio}
"""


def test_an_isolated_project_shares_nothing_with_the_developers_stack(tmp_path):
    (tmp_path / "devstack.yaml").write_text(MANIFEST)
    dev = Project(file=str(tmp_path / "devstack.yaml")).plan()
    runs = tmp_path / ".devstack" / "test-runs"
    first = Project(file=str(tmp_path / "devstack.yaml"), project_name="shop-test-1", state_dir=runs / "1").plan()
    second = Project(file=str(tmp_path / "devstack.yaml"), project_name="shop-test-2", state_dir=runs / "2").plan()

    assert (dev.project, first.project, second.project) == ("shop", "shop-test-1", "shop-test-2")
    assert first.state_dir == runs / "1" and first.env_file == runs / "1" / ".env"
    assert dev.env_file == tmp_path / ".env" and dev.state_dir == tmp_path / ".devstack"
    ports = [{p for s in plan.services.values() for p in s.ports.values()} for plan in (dev, first, second)]
    assert not (ports[0] & ports[1]) and not (ports[0] & ports[2]) and not (ports[1] & ports[2])
    # The well-known ports are left to developers' stacks.
    assert 5432 not in ports[1] | ports[2] and 6379 not in ports[1] | ports[2]
    assert first.services["db"].options["password"] != dev.services["db"].options["password"]
    # The registry names the session's state dir as the holder, so its ports go with the dir.
    registry = json.loads((Path(os.environ["DEVSTACK_HOME"]) / "ports.json").read_text())
    assert {owner["root"] for owner in registry.values()} == {str(tmp_path), str(runs / "1"), str(runs / "2")}
    # Native data outside the project (as root) lives under a key of its own.
    assert len({project_key(p) for p in (dev, first, second)}) == 3


def test_the_developers_stack_keeps_its_ports_when_a_session_plans_first(tmp_path):
    (tmp_path / "devstack.yaml").write_text(MANIFEST)
    before = Project(file=str(tmp_path / "devstack.yaml")).plan().services["cache"].ports
    Project(file=str(tmp_path / "devstack.yaml"), project_name="shop-test-x", state_dir=tmp_path / ".devstack" / "test-runs" / "x").plan()
    assert Project(file=str(tmp_path / "devstack.yaml")).plan().services["cache"].ports == before
