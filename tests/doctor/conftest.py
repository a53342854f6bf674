"""Doctor tests: real projects in tmp dirs, the CLI run as a user runs it."""

from __future__ import annotations

import json

import pytest

from tests.runtime.conftest import finish, make_stack


@pytest.fixture
def project(tmp_path, devstack_home):
    """project(manifest_text, files={...}, name=...) -> Stack (tests/runtime/conftest.py),
    torn down with `down --volumes` and checked for leftovers."""
    made = []

    def make(manifest: str, files: dict | None = None, name: str = "app"):
        stack = make_stack(tmp_path / name, devstack_home, manifest, files)
        made.append(stack)
        return stack

    yield make
    errors = []
    for stack in made:
        try:
            finish(stack)
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


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
