"""devstack as a newcomer installs it: the README's commands on a fresh clone with
Debian's own (externally managed) Python, and the wheel outside any checkout.

Both install every dependency into a fresh venv (pip's cache and the machine's
index make that about a minute each); they are marked `install` so
`-m "not install"` leaves them out of a quick run. CI runs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.runtime.conftest import Stack, finish, needs_servers

pytestmark = pytest.mark.install

DEBIAN_PYTHON = Path("/usr/bin/python3")
INSTALL_TIMEOUT = 900  # a cold pip cache on a slow index; warm it takes about a minute


def require(condition: bool, reason: str) -> None:
    """Skip where the machine lacks it, except under CI=true, which has it all."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but {reason}", pytrace=False)
        pytest.skip(reason)


def foreign_python(directory: str) -> bool:
    """Does `directory` hold a python that is not Debian's (pyenv shims, /usr/local builds)?"""
    for name in ("python3", "python"):
        path = Path(directory, name)
        if path.exists() and path.resolve().parent != Path("/usr/bin"):
            return True
    return False


def debian_env(**extra) -> dict:
    """The environment of a stock Debian shell: no pyenv, no venv, no PYTHONPATH to this checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYENV", "VIRTUAL_ENV", "CONDA"))
           and k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}  # not `make test`'s
    env["PATH"] = ":".join(d for d in os.environ.get("PATH", "").split(":") if d and "pyenv" not in d and not foreign_python(d))
    env.update(extra)
    return env


def clone_head(target: Path) -> Path:
    """A fresh clone of this checkout's HEAD (committed files only, as CI and a newcomer get)."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", head], check=True)
    return target


def run(argv, cwd, env, timeout=INSTALL_TIMEOUT) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@needs_servers
def test_make_up_and_down_on_a_fresh_clone_with_debians_python(tmp_path, devstack_home):
    require(DEBIAN_PYTHON.exists(), f"no Debian python at {DEBIAN_PYTHON}")
    require(shutil.which("make") is not None, "make is not installed")
    clone = clone_head(tmp_path / "devstack")
    # As on a machine with no Docker engine: the example runs as local processes.
    env = debian_env(DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    assert not any(foreign_python(d) for d in env["PATH"].split(":"))
    stack = Stack(clone / "fixtures" / "railgun", devstack_home)  # to check nothing is left at the end
    try:
        up = run(["make", "up", f"PYTHON={DEBIAN_PYTHON}"], clone, env)
        stack.remember()
        out = up.stdout + up.stderr
        assert "[make] creating .venv with /usr/bin/python3" in out and "[make] pip:" in out  # it says what it does
        assert "installed: .venv/bin/devstack (to type just devstack: export PATH=" in out and "railgun on native" in out and "ready in" in out, out[-3000:]
        venv = clone / ".venv"
        assert (venv / "bin" / "devstack").is_file()
        assert "home = /usr/bin" in (venv / "pyvenv.cfg").read_text()  # made from Debian's python, not pyenv's
        where = run([venv / "bin" / "python", "-c", "import devstack; print(devstack.__file__)"], tmp_path, env).stdout.strip()
        assert Path(where) == clone / "devstack" / "__init__.py"  # editable: the clone's own code
        assert subprocess.run(["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True).stdout == ""  # .venv is ignored
        down = run(["make", "down", f"PYTHON={DEBIAN_PYTHON}"], clone, env, timeout=120)
        assert "stopped" in down.stderr and "[make] pip:" not in down.stderr  # installed once, not again
    finally:
        finish(stack)


def test_wheel_installs_outside_the_checkout_and_renders_an_example(tmp_path):
    python = DEBIAN_PYTHON if DEBIAN_PYTHON.exists() else Path(sys.executable)
    env = debian_env()
    clone = clone_head(tmp_path / "src")
    venv = tmp_path / "app-venv"
    run([python, "-m", "venv", venv], tmp_path, env, timeout=120)
    vpy = venv / "bin" / "python"
    run([vpy, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", clone], tmp_path, env)
    wheel = next((tmp_path / "dist").glob("devstack-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "-C", str(clone), "ls-files", "devstack", "compose-templates"], capture_output=True, text=True, check=True).stdout.split()
    wanted = {name.replace("compose-templates/", "devstack/compose_templates/") for name in tracked}
    assert not wanted - names, f"the wheel lacks {sorted(wanted - names)}"  # every module and template ships
    run([vpy, "-m", "pip", "install", "-q", "--no-compile", wheel], tmp_path, env)  # compiling every dependency is slow, and not what this tests
    shutil.rmtree(clone)  # nothing may come from the source tree any more

    app = tmp_path / "app"
    shutil.copytree(ROOT / "fixtures" / "drone-school", app, ignore=shutil.ignore_patterns(".devstack", ".env"))
    where = run([vpy, "-c", "import devstack; print(devstack.__file__)"], app, env).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the installed wheel, not a checkout
    rendered = run([venv / "bin" / "devstack", "render"], app, env, timeout=120)
    assert "wrote .devstack/compose.yaml" in rendered.stderr and "wrote .env" in rendered.stderr
    compose = app / ".devstack" / "compose.yaml"
    assert "image:" in compose.read_text() and "DATABASE_URL=" in (app / ".env").read_text()

    plugin = shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    require(bool(plugin), "the docker compose v2 plugin is not installed (.ci/install-docker.sh installs it)")
    checked = subprocess.run(["docker", "compose", "-f", str(compose), "config", "-q"], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stderr
