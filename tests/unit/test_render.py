"""Render: compose file and .env compared with golden files (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from devstack import manifest, plan, render

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.fixture
def golden_plan(tmp_path):
    shutil.copy(GOLDEN / "all-kinds.yaml", tmp_path / "devstack.yaml")
    return plan.build(manifest.load(tmp_path / "devstack.yaml"))


def check_golden(name: str, text: str):
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; rerun with UPDATE_GOLDEN=1 if intended"


def test_compose_matches_golden(golden_plan):
    check_golden("all-kinds.compose.yaml", render.compose_yaml(golden_plan))


def test_env_matches_golden(golden_plan):
    check_golden("all-kinds.env", render.format_env(golden_plan.env, "dotenv"))


def test_compose_facts_the_images_need(golden_plan):
    services = render.compose_dict(golden_plan)["services"]
    assert set(services) == {"db", "cache", "s3", "mail", "stripe", "turn", "sfu"}  # stubs and off run no container
    for svc in services.values():
        for port in svc["ports"]:
            assert port.startswith("127.0.0.1:"), port
        assert svc["image"].rsplit(":", 1)[1] not in ("", "latest")
        assert "healthcheck" in svc
        assert svc["network_mode"] == "bridge"  # no per-project network to create, set up or leave behind
    assert services["db"]["volumes"] == ["db-data:/var/lib/postgresql"]  # 18+ layout
    assert services["s3"]["image"].startswith("quay.io/minio/minio:")
    assert services["mail"]["environment"]["MP_SMTP_AUTH"] == "devstack:mailpw"  # the one login; a wrong password gets 535
    assert "MP_SMTP_AUTH_ACCEPT_ANY" not in services["mail"]["environment"]
    assert services["mail"]["environment"]["MP_SMTP_AUTH_ALLOW_INSECURE"] == "1"
    assert "command" in services["turn"]
    assert services["sfu"]["environment"]["LIVEKIT_KEYS"] == "key1: 0123456789abcdef0123456789abcdef"
    assert ["--bind", "0.0.0.0"] == services["sfu"]["command"][1:3]
    assert "--requirepass" in services["cache"]["command"]


def test_dollar_signs_survive_compose_interpolation(golden_plan):
    text = render.compose_yaml(golden_plan)
    assert "pa$$$$word" in text  # YAML carries $$$$, compose turns it back into pa$$word
    assert yaml.safe_load(text)["services"]["db"]["healthcheck"]["test"][1].count("$$POSTGRES_USER") == 1


def test_postgres_15_mounts_the_data_dir(tmp_path):
    (tmp_path / "devstack.yaml").write_text("services:\n  db: {kind: postgres}\n")
    compose = render.compose_dict(plan.build(manifest.load(tmp_path / "devstack.yaml")))
    assert compose["services"]["db"]["volumes"] == ["db-data:/var/lib/postgresql/data"]


def test_env_file_is_private_and_atomic(golden_plan):
    path = render.write_env(golden_plan)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".env.")]  # no temp files left


@pytest.mark.parametrize("value, expected", [
    ("plain", "plain"),
    ("", ""),
    ("postgresql://u:p@h:1/db", "postgresql://u:p@h:1/db"),
    ("two words", '"two words"'),
    ("line1\nline2", '"line1\\nline2"'),
    ('say "hi" $HOME', '"say \\"hi\\" \\$HOME"'),
])
def test_dotenv_quoting(value, expected):
    assert render.dotenv_value(value) == expected


def test_shell_and_json_formats():
    env = {"A": "x y", "B": "it's"}
    assert render.format_env(env, "shell") == "export A='x y'\nexport B='it'\"'\"'s'\n"
    assert render.format_env(env, "json").startswith("{\n")


def test_the_compose_file_is_reused_only_while_its_inputs_are_unchanged(golden_plan, tmp_path, monkeypatch):
    """`up` skips rendering (and Jinja2) while the plan and the templates are the same."""
    monkeypatch.setenv("DEVSTACK_HOME", str(tmp_path / "home"))
    text = render.current_compose(golden_plan)
    assert text == render.compose_yaml(golden_plan) == golden_plan.compose_file.read_text()
    assert stat.S_IMODE(golden_plan.compose_file.stat().st_mode) == 0o600

    calls = []
    monkeypatch.setattr(render, "compose_yaml", lambda *a, **k: calls.append(a) or "rendered again\n")
    assert render.current_compose(golden_plan) == text and calls == []  # same inputs: the file as it is

    other_bind = render.current_compose(golden_plan, bind="0.0.0.0")  # a different input: rendered
    assert other_bind == "rendered again\n" == golden_plan.compose_file.read_text() and len(calls) == 1

    svc = next(s for s in golden_plan.services.values() if s.mode == "run")
    svc.ports = {**svc.ports, **{name: port + 1 for name, port in svc.ports.items()}}
    render.current_compose(golden_plan, bind="0.0.0.0")
    assert len(calls) == 2  # a port moved: rendered again
