"""The host programs under `tools:` (e.g. `node: ">= 20"`): found, in range, and
an install line that meets the range when not."""

from __future__ import annotations

import shutil

from devstack.doctor import versions
from devstack.doctor.context import parallel
from devstack.doctor.findings import fail, ok, warn


def checks(ctx):
    if not ctx.whole:
        return  # `doctor SERVICE` checks that service only
    yield from parallel(lambda item: tool(*item), ctx.plan.tools.items())


def tool(name: str, wanted: str):
    from devstack.doctor import install

    route = install.route_for(name)
    wanted = str(wanted).strip()
    path = shutil.which(name)
    if not path:
        return fail("tools", name, f"`{name}` is not installed (wanted: {wanted})", _fix(route, wanted))
    version = versions.probe(path, route.version_args)
    if wanted in ("", "*"):
        return ok("tools", name, f"{path}" + (f", version {version}" if version else ""))
    if version is None:
        return warn("tools", name, f"{path} prints no version (`{name} {' '.join(route.version_args)}`): cannot tell if it meets {wanted}",
                    f"check it by hand; the ways to get one that does: {_fix(route, wanted)}")
    if versions.satisfies(version, wanted):
        return ok("tools", name, f"{version} ({path}) meets {wanted}")
    return fail("tools", name, f"{name} {version} ({path}) does not meet {wanted}", _fix(route, wanted))


def _fix(route, wanted: str) -> str:
    from devstack.doctor import install

    return install.install_line(route.apt, route.brew, route.pip, "" if wanted == "*" else wanted, route.other)
