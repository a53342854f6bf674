"""`devstack doctor`: what is wrong with this machine or this stack, and the fix.

Each check yields Finding(level, subject, message, fix); nothing here changes
anything, so it is safe to run at any time.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from typing import Iterator

from devstack.errors import UserError


@dataclass
class Finding:
    level: str  # ok | warn | fail
    subject: str
    message: str
    fix: str = ""


def check_runtime(app) -> Iterator[Finding]:
    from devstack.runtime import engine

    requested = app.requested_runtime()
    try:
        endpoint = engine.resolve(app.context)
    except engine.ContextNotFound as exc:
        yield Finding("fail", "docker", f"docker context `{exc}` does not exist", "`docker context ls` lists them")
        return
    answers = engine.engine_answers(app.context)
    if answers:
        where = "ports live on that machine: .env points there" if endpoint.remote else "ports on 127.0.0.1"
        yield Finding("ok", "docker", f"{endpoint.describe()} answers; {where}")
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if compose.returncode != 0:
            yield Finding("fail" if requested != "native" else "warn", "docker compose", "the compose v2 plugin is missing",
                          "install docker-compose-plugin (or Debian trixie's docker-compose) into ~/.docker/cli-plugins")
    elif requested == "docker":
        fix = "start the engine (`sudo systemctl start docker` / Docker Desktop), or use `--runtime native`"
        if not shutil.which("docker"):
            fix = "install Docker (`apt-get install docker.io`), or use `--runtime native`"
        yield Finding("fail", "docker", f"runtime docker, but {endpoint.describe()} does not answer", fix)
    else:
        yield Finding("ok", "runtime", "no Docker engine answers: the native runtime runs the stack as local processes")


def check_native(plan) -> Iterator[Finding]:
    from devstack.runtime.host import native_spec

    for svc in plan.services.values():
        if not svc.runs:
            continue
        try:
            spec = native_spec(svc, plan)
        except UserError as exc:
            yield Finding("fail", svc.name, exc.message, exc.hint or "")
            continue
        except NotImplementedError as exc:
            yield Finding("warn", svc.name, str(exc))
            continue
        argv = getattr(spec, "argv", None) or [svc.kind.name]
        what = getattr(spec, "implementation", None) or os.path.basename(argv[0])
        yield Finding("ok", svc.name, f"{svc.kind.name}: runs natively as {what}")


def check_ports(plan, running: set[str]) -> Iterator[Finding]:
    from devstack.ports import range_free

    for svc in plan.services.values():
        if not svc.runs or svc.name in running:
            continue
        for name, port in svc.ports.items():
            spec = svc.kind.ports[name]
            if not range_free(port, spec.count, spec.protocol):
                yield Finding("fail", svc.name, f"port {port} ({name}) is taken by another program",
                              f"stop it (`ss -ltnup 'sport = :{port}'` shows which), or set `{name}:` in the manifest")


def check_tools(tools: dict[str, str]) -> Iterator[Finding]:
    for tool, spec in tools.items():
        path = shutil.which(tool)
        if not path:
            yield Finding("fail", tool, f"`{tool}` is not installed (wanted {spec})", f"install {tool} (apt-get / brew)")
            continue
        version = tool_version(tool)
        if spec.strip() == "*" or version is None:
            yield Finding("ok", tool, f"{path}" + (f" {version}" if version else ""))
        elif satisfies(version, spec):
            yield Finding("ok", tool, f"{version} satisfies {spec}")
        else:
            yield Finding("fail", tool, f"{version} does not satisfy {spec}", f"install a {tool} {spec}")


def tool_version(tool: str) -> str | None:
    for flag in ("--version", "-version", "version"):
        try:
            out = subprocess.run([tool, flag], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r"(\d+(?:\.\d+)+)", out.stdout + out.stderr)
        if match:
            return match.group(1)
    return None


def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def satisfies(version: str, spec: str) -> bool:
    """Comma-separated clauses: >=, <=, ==, >, <, ~= (same major), ^ (same major)."""
    have = _parts(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = re.match(r"(>=|<=|==|~=|\^|>|<)?\s*([\d.]+)$", clause)
        if not match:
            return False
        op, want = match.group(1) or "==", _parts(match.group(2))
        padded = have[: len(want)] if op == "==" else have
        ok = {
            ">=": have >= want, "<=": have[: len(want)] <= want, ">": have > want, "<": have < want,
            "==": padded == want, "~=": have >= want and have[:1] == want[:1], "^": have >= want and have[:1] == want[:1],
        }[op]
        if not ok:
            return False
    return True


def check_files(plan) -> Iterator[Finding]:
    from devstack.render import format_env

    env_file = plan.env_file
    if not env_file.exists():
        yield Finding("warn", ".env", f"{env_file.name} not written yet", "`devstack up` or `devstack render` writes it")
    else:
        lines = [line for line in env_file.read_text().splitlines() if line and not line.startswith("#")]
        if lines != format_env(plan.env, "dotenv").splitlines():
            yield Finding("warn", ".env", f"{env_file.name} differs from the manifest", "`devstack render` rewrites it")
        if stat.S_IMODE(env_file.stat().st_mode) & 0o077:
            yield Finding("warn", ".env", f"{env_file.name} is readable by other users", f"chmod 600 {env_file}")
    gitignore = plan.root / ".gitignore"
    if (plan.root / ".git").exists():
        ignored = gitignore.read_text().split() if gitignore.exists() else []
        for entry in (".devstack/", env_file.name):
            if entry not in ignored and entry.rstrip("/") not in ignored:
                yield Finding("warn", "git", f"{entry} is not in .gitignore: it holds generated secrets", f"echo '{entry}' >> .gitignore")


def run(app) -> list[Finding]:
    from devstack import runtime

    findings = list(check_runtime(app))
    plan = app.plan(persist=False)  # doctor writes nothing
    rt = runtime.select(app.requested_runtime(), app)
    try:
        running = rt.running_services(plan)
    except Exception:  # a broken engine is reported above; keep checking the rest
        running = set()
    if rt.name == "native":
        findings += check_native(plan)
    if rt.public_host() == "127.0.0.1":  # a remote engine's ports are not on this machine
        findings += check_ports(plan, running)
    findings += check_tools(plan.tools)
    findings += check_files(plan)
    return findings
