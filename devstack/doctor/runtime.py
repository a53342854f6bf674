"""The runtime: Docker's CLI, compose plugin, engine and images; or, natively,
each kind's programs with their versions and an install line that fits."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devstack.doctor import versions
from devstack.doctor.context import parallel
from devstack.doctor.findings import fail, ok, warn
from devstack.errors import UserError


def checks(ctx):
    if ctx.rt.name == "docker":
        yield from docker(ctx)
    elif ctx.project.requested_runtime() == "auto":
        from devstack.runtime import engine

        try:
            where = engine.resolve(ctx.project.context).describe()
        except engine.ContextNotFound:
            where = "the docker context"
        yield ok("runtime", "native", f"runtime auto: no Docker engine answers ({where}), so the stack runs as local processes")
    else:
        yield ok("runtime", "native", "the stack runs as local processes")
    for found in parallel(lambda svc: list(native_program(ctx, svc)), ctx.native()):
        yield from found


# -- docker ---------------------------------------------------------------------------


def docker(ctx):
    from devstack.runtime import engine
    from devstack.runtime.docker_errors import compose_missing, docker_cli_missing

    rt = ctx.rt
    endpoint = rt.endpoint
    if not shutil.which("docker"):
        error = docker_cli_missing()
        yield fail("runtime", "docker", error.message, error.hint)
        return
    plugin = engine.compose_plugin()
    argv = [str(plugin), "version", "--short"] if plugin else ["docker", "compose", "version", "--short"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        version = versions.parse(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        version = None
    if version is None:
        error = compose_missing()
        yield fail("runtime", "docker compose", error.message, error.hint)
    elif versions.parts(version)[:1] < (2,):
        yield fail("runtime", "docker compose", f"docker compose {version} is v1; devstack needs the v2 plugin", compose_missing().hint)
    else:
        yield ok("runtime", "docker compose", f"compose plugin {version}" + (f" ({plugin})" if plugin else ""))
    if not engine.engine_answers(ctx.project.context):
        yield engine_down(endpoint)
        return
    where = f"published ports live on {endpoint.public_host}: .env points there" if endpoint.remote else "ports on 127.0.0.1"
    yield ok("runtime", "docker", f"{endpoint.describe()} answers; {where}")
    yield from images(ctx)


def engine_down(endpoint):
    fix_start = "start the engine (`sudo systemctl start docker`, or Docker Desktop), or use `--runtime native`"
    if endpoint.host.startswith("unix://"):
        path = endpoint.host[len("unix://"):]
        if not os.path.exists(path):
            return fail("runtime", "docker", f"no Docker engine: {path} does not exist", fix_start)
        if not os.access(path, os.R_OK | os.W_OK):
            return fail("runtime", "docker", f"not allowed to use {path} (permission denied)",
                        "add yourself to the `docker` group: `sudo usermod -aG docker $USER`, then log in again; or use `--runtime native`")
        return fail("runtime", "docker", f"{endpoint.describe()} does not answer", fix_start)
    return fail("runtime", "docker", f"cannot reach {endpoint.describe()}",
                "check DOCKER_HOST / `--context` (`docker context ls`) and that the engine's machine is up; or use `--runtime native`")


def images(ctx):
    from devstack.runtime.docker_errors import image_unavailable

    rt, plan = ctx.rt, ctx.scoped
    wanted = sorted({s.kind.image(s) for s in plan.services.values() if s.mode == "run" and s.kind.image(s)})
    if not wanted:
        return
    absent = rt.absent_images(plan)
    for image in absent:
        pullable, reason = _pullable(rt, image)
        if pullable:
            yield warn("images", image, f"image {image} is not on the engine yet; the registry has it", f"`devstack up` pulls it (or `docker pull {image}`)")
        else:
            hint = image_unavailable(image, plan).hint
            yield fail("images", image, f"image {image} is not on the engine and cannot be pulled ({reason})",
                       f"`docker pull {image}` once its registry is reachable; or {hint}")
    present = [i for i in wanted if i not in absent]
    if present:
        yield ok("images", "images", f"on the engine: {', '.join(present)}")


def _pullable(rt, image: str) -> tuple[bool, str]:
    """Does the image's registry answer for it? (`docker manifest inspect`: no download)"""
    argv = ["docker"] + (["--context", rt.context] if rt.context else []) + ["manifest", "inspect", image]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "its registry did not answer in 15 s"
    except OSError as exc:
        return False, str(exc)
    if out.returncode == 0:
        return True, ""
    from devstack.runtime.docker_errors import reason_line

    return False, reason_line(out.stderr or out.stdout)


# -- native programs --------------------------------------------------------------------


def native_program(ctx, svc):
    spec = ctx.spec(svc)
    kind = svc.kind
    if isinstance(spec, NotImplementedError):
        yield fail("binary", svc.name, f"{kind.name} cannot run natively ({spec})",
                   "use `--runtime docker`" + (", or `mode: stub`" if "stub" in kind.modes else "") + f", or `mode: off` for {svc.name}")
        return
    if isinstance(spec, UserError):
        yield missing_program(svc, spec)
        return
    if isinstance(spec, Exception):
        yield fail("binary", svc.name, f"{kind.name}: cannot build its native command: {spec}", "a bug in the kind: please report it")
        return
    program = Path(spec.argv[0])
    for wanted in kind.wanted(svc):
        if program.name not in wanted.names:
            continue
        exe = program.parent / (wanted.version_of or program.name)
        version = spec.version or versions.probe(str(exe), wanted.version_args)  # the kind may have asked already
        if version and wanted.versions and not versions.satisfies(version, wanted.versions):
            from devstack.doctor import install

            fix = install.install_line(wanted.apt, wanted.brew, wanted.pip, wanted.versions, (wanted.elsewhere,) if wanted.elsewhere else ())
            yield warn("binary", svc.name, f"{exe} is version {version}; {svc.name} asks for {_range(wanted.versions)}",
                       f"{fix}; or set `{wanted.option}:` to one that is")
            return
        yield ok("binary", svc.name, spec.implementation + (f", version {version}" if version else ""))
        return
    yield ok("binary", svc.name, spec.implementation)  # devstack's own stand-in


def missing_program(svc, error: UserError):
    """A program the kind needs is not found: which one, and how to get it in a fitting version."""
    from devstack import programs
    from devstack.runtime import binaries

    for wanted in svc.kind.wanted(svc):
        if svc.options.get(wanted.option):
            break  # the manifest names a path: the kind's message says what is wrong with it
        dirs = binaries.candidate_dirs(wanted)
        if programs.dir_holding(wanted.names, dirs) is not None:
            continue
        from devstack.doctor import install

        fix = install.install_line(wanted.apt, wanted.brew, wanted.pip, wanted.versions, (wanted.elsewhere,) if wanted.elsewhere else ())
        fix += f"; or set `{wanted.option}:` to its path"
        if "stub" in svc.kind.modes:
            fix += f"; or `mode: stub` for {svc.name}"
        return fail("binary", svc.name, f"no {wanted.what} on this machine (looked for {', '.join(wanted.names)} in PATH and the usual dirs)", fix)
    return fail("binary", svc.name, error.message, error.hint or "")


def _range(spec: str) -> str:
    return f"version {spec[2:]}" if spec.startswith("==") else spec
