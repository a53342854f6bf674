"""`devstack doctor`: each problem with its fix, exit 1 when something fails."""

from __future__ import annotations

import socket

import pytest

from devstack.doctor import satisfies


@pytest.mark.parametrize("version, spec, ok", [
    ("20.11.1", ">= 20", True),
    ("18.19.0", ">= 20", False),
    ("1.4.2", ">=1.2, <2", True),
    ("2.0.0", ">=1.2, <2", False),
    ("6.1", "==6", True),
    ("7.0", "^6.1", False),
    ("15.4", "~=15.2", True),
])
def test_version_ranges(version, spec, ok):
    assert satisfies(version, spec) is ok


def test_doctor_names_missing_tool_and_taken_port_with_fixes(tmp_path, cli):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        (tmp_path / "devstack.yaml").write_text(
            f"runtime: native\nservices:\n  cache: {{kind: redis, port: {port}}}\n"
            "tools:\n  no-such-tool-xyz: '>= 1'\n  python3: '>= 3.8'\n")
        result = cli("doctor", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert f"FAIL  cache: port {port} (port) is taken by another program" in out
    assert "FAIL  no-such-tool-xyz: `no-such-tool-xyz` is not installed" in out
    assert "ok    python3:" in out and "satisfies >= 3.8" in out
    assert out.count("fix:") >= 2
    assert "Traceback" not in result.stderr


def test_doctor_all_good_exits_0(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text("runtime: native\nservices:\n  cache: {kind: redis}\n")
    result = cli("render", cwd=tmp_path, check=True)
    result = cli("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "cache: redis: runs natively as redis-server" in result.stdout
