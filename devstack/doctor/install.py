"""How to install a program on this machine in a version that meets a range.

The platform's package manager is asked which version it would install
(`apt-cache madison`: every version the configured apt sources offer, the
backports included), so a Debian 12 user who needs node >= 20 is not told
`apt-get install nodejs` (bookworm's is 18). When the packaged version is too
old or there is none, the routes known for the program say what works.
Asked only for problems: the apt cache is slow to read.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass

from devstack.doctor import versions


@dataclass(frozen=True)
class Route:
    """Ways to get a program. `{major}`/`{version}` are filled from the range wanted."""

    apt: str = ""  # Debian/Ubuntu package
    brew: str = ""  # Homebrew formula; may name {major} (node@{major})
    pip: str = ""  # a PyPI package that bundles it
    other: tuple[str, ...] = ()  # upstream routes, as commands where possible
    version_args: tuple[str, ...] = ("--version",)


# Host programs manifests list under `tools:` most often (doctor's own table;
# a kind's programs come from the kind's Wanted declarations).
KNOWN_TOOLS: dict[str, Route] = {
    "node": Route("nodejs", "node@{major}", other=(
        "NodeSource: `curl -fsSL https://deb.nodesource.com/setup_{major}.x | bash - && apt-get install -y nodejs`",
        "nvm: `nvm install {major}`")),
    "npm": Route("npm", "node@{major}", other=("npm comes with node: `nvm install --lts`, or NodeSource's nodejs package",)),
    "npx": Route("npm", "node@{major}", other=("npx comes with npm: `nvm install --lts`",)),
    "yarn": Route("yarnpkg", "yarn", other=("corepack (in node >= 16): `corepack enable`",)),
    "pnpm": Route("", "pnpm", other=("corepack (in node >= 16): `corepack enable pnpm`", "`npm install -g pnpm`")),
    "bun": Route("", "oven-sh/bun/bun", other=("`curl -fsSL https://bun.sh/install | bash`",)),
    "deno": Route("", "deno", other=("`curl -fsSL https://deno.land/install.sh | sh`",)),
    "python3": Route("python3", "python@{version}", other=("pyenv: `pyenv install {version}`", "uv: `uv python install {version}`")),
    "python": Route("python-is-python3", "python@{version}", other=("pyenv: `pyenv install {version}`",)),
    "uv": Route("", "uv", "uv", other=("`curl -LsSf https://astral.sh/uv/install.sh | sh`",)),
    "go": Route("golang", "go", other=("the official tarball: https://go.dev/dl/",), version_args=("version",)),
    "cargo": Route("cargo", "rust", other=("rustup: `curl https://sh.rustup.rs -sSf | sh`",)),
    "rustc": Route("rustc", "rust", other=("rustup: `curl https://sh.rustup.rs -sSf | sh`",)),
    "java": Route("default-jdk", "openjdk@{major}", other=("SDKMAN: `sdk install java`",), version_args=("-version",)),
    "ruby": Route("ruby", "ruby", other=("rbenv: `rbenv install {version}`",)),
    "php": Route("php-cli", "php", other=("Ondřej Surý's packages: https://deb.sury.org/",)),
    "ffmpeg": Route("ffmpeg", "ffmpeg", other=("static builds: https://johnvansickle.com/ffmpeg/",), version_args=("-version",)),
    "ffprobe": Route("ffmpeg", "ffmpeg", version_args=("-version",)),
    "convert": Route("imagemagick", "imagemagick"),
    "magick": Route("imagemagick", "imagemagick"),
    "psql": Route("postgresql-client", "libpq", other=("PostgreSQL's apt repository: https://wiki.postgresql.org/wiki/Apt",)),
    "pg_dump": Route("postgresql-client", "libpq"),
    "redis-cli": Route("redis-tools", "redis"),
    "mysql": Route("default-mysql-client", "mysql-client"),
    "docker": Route("docker.io", "docker", other=("Docker's apt repository: https://docs.docker.com/engine/install/",)),
    "git": Route("git", "git"),
    "make": Route("make", "make"),
    "curl": Route("curl", "curl"),
    "jq": Route("jq", "jq"),
    "openssl": Route("openssl", "openssl", version_args=("version",)),
    "chromium": Route("chromium", "chromium"),
    "stripe": Route("", "stripe/stripe-cli/stripe", other=("Stripe's apt repository: https://docs.stripe.com/stripe-cli",)),
    "protoc": Route("protobuf-compiler", "protobuf"),
    "terraform": Route("", "hashicorp/tap/terraform", other=("HashiCorp's apt repository: https://developer.hashicorp.com/terraform/install",)),
    "kubectl": Route("", "kubectl", other=("https://kubernetes.io/docs/tasks/tools/",), version_args=("version", "--client")),
}


def route_for(tool: str) -> Route:
    return KNOWN_TOOLS.get(tool, Route(apt=tool, brew=tool))


def platform() -> str:
    """darwin | apt (Debian, Ubuntu...) | linux (another package manager)."""
    if sys.platform == "darwin":
        return "darwin"
    return "apt" if shutil.which("apt-cache") else "linux"


@functools.cache
def apt_versions(package: str) -> tuple[tuple[str, str], ...]:
    """(upstream version, suite) of every version apt's sources offer, newest first."""
    try:
        out = subprocess.run(["apt-cache", "madison", package], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 3 or cells[0] != package:
            continue
        source = cells[2].split()
        suite = source[1].split("/")[0] if len(source) > 1 else ""
        found.append((versions.debian_upstream(cells[1]), suite))
    found.sort(key=lambda vs: versions.parts(vs[0]), reverse=True)
    return tuple(found)


def _fill(text: str, wanted: str) -> str:
    major = versions.lowest_major(wanted) if wanted else None
    exact = next((m.group(2) for c in wanted.split(",") if (m := versions.CLAUSE.match(c.strip()))), "") if wanted else ""
    if major is None and "{" in text:
        return text.replace("@{major}", "").replace("@{version}", "").replace("{major}", "lts").replace("{version}", "")
    return text.replace("{major}", str(major)).replace("{version}", exact or str(major))


def install_line(apt: str, brew: str, pip: str = "", wanted: str = "", other: tuple[str, ...] = (), have: str | None = None) -> str:
    """The ways to install a program in a version within `wanted`, best first, "; or "-joined."""
    ways: list[str] = []
    note = ""
    where = platform()
    if where == "apt" and apt:
        offered = apt_versions(apt)
        fitting = [(v, s) for v, s in offered if versions.satisfies(v, wanted)]
        if fitting:
            version, suite = fitting[0]
            default = [s for _, s in offered if not s.endswith("-backports")]
            target = f" -t {suite}" if suite.endswith("-backports") and suite not in default else ""
            ways.append(f"`apt-get install -y{target} {apt}` ({apt} {version})")
        elif offered:
            note = f"(apt's {apt} is {offered[0][0]}, outside {wanted})"
        else:
            note = f"(apt has no {apt} package)"
    brew_here = where == "darwin" or shutil.which("brew")
    if brew and brew_here:
        ways.append(f"`brew install {_fill(brew, wanted)}`")
    ways += [_fill(route, wanted) for route in other]
    if pip:
        ways.append(f"`pip install {pip}`")
    if where == "linux" and apt:
        ways.append(f"your distribution's {apt} package")
    if not ways:
        ways.append("install it from its project's site" + (f" (or `brew install {_fill(brew, wanted)}` with Homebrew)" if brew else ""))
    return "; or ".join(ways) + (f" {note}" if note else "")
