"""Global options work before and after the command's name, defined once."""

from __future__ import annotations

import json

import pytest

from devstack.cli.main import COMMANDS, GLOBAL_OPTIONS, cli, with_global_options

MANIFEST = "project: opts\nruntime: docker\nservices:\n  flags: {mode: stub}\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "app").mkdir()
    path = tmp_path / "app" / "devstack.yaml"
    path.write_text(MANIFEST)
    return path


@pytest.mark.parametrize("position", ["before", "after"])
def test_file_option_in_both_positions(cli, project, tmp_path, position):
    args = ["-f", str(project), "env"] if position == "before" else ["env", "-f", str(project)]
    result = cli(*args, cwd=tmp_path)  # tmp_path has no manifest: only -f finds it
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FEATURE_FLAGS_URL=http://127.0.0.1:")  # the plan came from that manifest
    long = ["--file", str(project), "env"] if position == "before" else ["env", "--file", str(project)]
    assert cli(*long, cwd=tmp_path).stdout == result.stdout


@pytest.mark.parametrize("position", ["before", "after"])
def test_runtime_option_in_both_positions_overrides_the_manifest(cli, project, position):
    args = ["--runtime", "native", "status", "--json"] if position == "before" else ["status", "--json", "--runtime", "native"]
    result = cli(*args, cwd=project.parent, env={"DEVSTACK_RUNTIME": ""})
    assert json.loads(result.stdout)["runtime"] == "native", result.stderr


@pytest.mark.parametrize("position", ["before", "after"])
def test_context_option_in_both_positions(cli, project, position):
    args = ["--context", "no-such-context", "down"] if position == "before" else ["down", "--context", "no-such-context"]
    result = cli(*args, cwd=project.parent, env={"DEVSTACK_RUNTIME": ""})
    assert result.returncode == 2
    assert "no-such-context" in result.stderr and "Traceback" not in result.stderr


def test_a_later_position_wins_and_an_absent_one_keeps_the_earlier(cli, project, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(MANIFEST.replace("opts", "other"))
    out = cli("-f", str(other), "status", "--json", "-f", str(project), "--runtime", "native", cwd=tmp_path).stdout
    assert json.loads(out)["project"] == "opts"
    out = cli("-f", str(other), "--runtime", "native", "status", "--json", cwd=tmp_path).stdout
    assert json.loads(out)["project"] == "other"


def test_logs_keeps_its_own_short_follow_flag():
    command = with_global_options(__import__("devstack.cli.logs", fromlist=["logs"]).logs)
    opts = {opt: p.name for p in command.params for opt in p.opts}
    assert opts["-f"] == "follow" and opts["--file"] == "file"


def test_every_command_takes_every_global_option_from_one_definition():
    names = {decls[-1] for decls, _ in GLOBAL_OPTIONS}
    assert names <= {opt for p in cli.params for opt in p.opts}
    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        command = with_global_options(getattr(__import__(module, fromlist=[attr]), attr))
        assert names <= {opt for p in command.params for opt in p.opts}, name
        helps = {p.help for p in command.params if set(p.opts) & names}
        assert helps <= {attrs["help"] for _, attrs in GLOBAL_OPTIONS}
