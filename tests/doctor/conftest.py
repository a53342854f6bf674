"""Doctor tests: real projects in tmp dirs, the CLI run as a user runs it."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

from tests.runtime.conftest import native_stack  # noqa: F401  (the fixture `project` wraps)


@pytest.fixture
def project(native_stack):  # noqa: F811  (the imported fixture, requested by name)
    """project(manifest_text, files={...}, name=...) -> Stack: tests/runtime/conftest.py's
    native_stack (torn down with `down --volumes`, checked for leftovers)."""
    return native_stack


@contextlib.contextmanager
def held_port():
    """A TCP port another program (this test process) listens on."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield squatter.getsockname()[1]


def doctor(stack, *args, env: dict | None = None):
    """(exit code, stdout, findings from --json) of `devstack doctor ARGS`."""
    text = stack.cli("doctor", *args, check=False, env=env)
    assert "Traceback" not in text.stderr, text.stderr
    as_json = stack.cli("doctor", "--json", *args, check=False, env=env)
    assert as_json.returncode == text.returncode, (text.stdout, as_json.stdout)
    return text.returncode, text.stdout, json.loads(as_json.stdout)


def line(out: str, level: str, check: str, subject: str) -> str:
    """The finding `LEVEL  check  subject: ...` and the lines under it (log lines, its fix), spaces squeezed."""
    import re

    lines = out.splitlines()
    pattern = re.compile(rf"^{re.escape(level)}\s+{re.escape(check)}\s+{re.escape(subject)}: ")
    for i, text in enumerate(lines):
        if pattern.match(text):
            block = [text]
            for more in lines[i + 1:]:
                if not more.startswith(" "):
                    break
                block.append(more)
            return "\n".join(" ".join(b.split()) for b in block)
    raise AssertionError(f"no `{level} {check} {subject}:` line in:\n{out}")


REDIS = "runtime: native\nservices:\n  cache: {kind: redis}\n"
