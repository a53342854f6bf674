"""`devstack init`: from an app's `.env.example`, dependency document or compose file to a devstack.yaml.

sources (find and read files: dotenv, markdown, compose) -> classify (one
variable: which kind's output, or secret / app config / off) -> detect (the
services, their modes and options, a decision per variable) -> writer (YAML
with a comment per choice) and report (table / JSON).
"""

from __future__ import annotations

import re
from pathlib import Path

from devstack.errors import UserError


def run(root: Path, paths: list[Path] | None = None):
    """Read the inputs (the named ones, else the usual files under root) and decide."""
    from devstack.init import detect, sources

    if paths:
        paths = [q for p in paths for q in (_discover(Path(p)) if Path(p).is_dir() else [Path(p)])]
        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise UserError(f"no such file: {', '.join(missing)}", "pass an existing .env.example, markdown document or compose file to --from")
    else:
        paths = _discover(root)
    return detect.detect(sources.read([Path(p) for p in paths], root), project_name(root))


def _discover(folder: Path) -> list[Path]:
    """The usual files in a folder (`--from DIR`, or the project's root); one error if none."""
    from devstack.init import sources

    found = sources.discover(folder)
    if not found:
        raise UserError(f"found no .env.example, compose file or dependency document in {folder} or its subfolders",
                        "pass the file that lists the app's services with --from PATH")
    return found


def project_name(root: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(root).resolve().name).strip("-.")
    return name if re.match(r"^[A-Za-z0-9]", name or "") else "app"
