"""Which files init reads: the ones named with --from, or the usual ones in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from devstack.errors import UserError
from devstack.init import composefile, dotenv, markdown
from devstack.init.model import Inputs

# .env.example, .env.sample, .env.template, .env.local.example, .env.production.sample, example.env, .env.development, ...
DOTENV_NAME = re.compile(r"^(\.env(\.[\w-]+)*\.(example|sample|template|dist|defaults)(\.local)?|\.env\.(development|dev)"
                         r"|([\w-]+\.)?(example|sample)\.env|env\.(example|sample))$")
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml", "docker-compose.dev.yml",
                 "docker-compose.dev.yaml", "compose.dev.yaml", "docker-compose.development.yml", "docker-compose.local.yml")
# Documents that describe the app's services (the README only when nothing else is there).
DOC_NAME = re.compile(r"(depend|infra|environment|env[-_]?var|configur|self[-_]?host|deploy|setup|services|external)[^/]*\.(md|markdown)$", re.I)
SKIP_DIRS = {"node_modules", "vendor", "dist", "build", "target", "venv", ".venv", "__pycache__", "coverage", "tmp", "log", "logs"}
MAX_BYTES = 2_000_000  # larger files are not dependency lists


def discover(root: Path) -> list[Path]:
    dirs = [root] + _subdirs(root)
    dotenvs = [p for d in dirs for p in sorted(d.iterdir()) if DOTENV_NAME.match(p.name) and p.is_file()]
    composes = [d / n for d in dirs for n in COMPOSE_NAMES if (d / n).is_file()]
    docs = [p for d in dirs for p in sorted(d.glob("*.md")) if DOC_NAME.search(p.name) and p.is_file()]
    found = dotenvs + composes + docs
    if not dotenvs and not docs and (root / "README.md").is_file():
        found.append(root / "README.md")
    return found


def _subdirs(root: Path) -> list[Path]:
    """One level down (backend/, server/, docs/), and apps/* and packages/* of monorepos."""
    found = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if not child.is_dir() or child.name.startswith(".") or child.name in SKIP_DIRS:
            continue
        found.append(child)
        if child.name in ("apps", "packages", "services"):
            found += [g for g in sorted(child.iterdir()) if g.is_dir() and not g.name.startswith(".")]
    return found


def read(paths: list[Path], root: Path) -> Inputs:
    inputs = Inputs()
    for path in paths:
        name = _relative(path, root)
        try:
            raw = path.read_bytes()[:MAX_BYTES]
        except OSError as exc:
            raise UserError(f"cannot read {name}: {exc.strerror}", "check the --from path") from None
        text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
        inputs.extend(parse(text, name, path.name))
        if name not in inputs.files:
            inputs.files.append(name)
    return inputs


def parse(text: str, source: str, filename: str) -> Inputs:
    kind = kind_of(filename, text)
    if kind == "dotenv":
        return dotenv.parse(text, source)
    if kind == "compose":
        return composefile.parse(text, source)
    return markdown.parse(text, source)


def kind_of(filename: str, text: str) -> str:
    lower = filename.lower()
    if lower.startswith(".env") or lower.endswith(".env") or DOTENV_NAME.match(lower):
        return "dotenv"
    if lower.endswith((".yml", ".yaml")):
        return "compose"
    if lower.endswith((".md", ".markdown", ".txt", ".rst")):
        return "markdown"
    lines = [x for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
    if lines and sum(bool(re.match(r"^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=", x)) for x in lines) >= 0.6 * len(lines):
        return "dotenv"
    if re.search(r"^services:\s*$", text, re.M):
        return "compose"
    return "markdown"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
