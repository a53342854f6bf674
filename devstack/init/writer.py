"""Result -> devstack.yaml text, a comment on every choice; written atomically, never over a file without --force."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import yaml

from devstack.errors import UserError
from devstack.init import kinds
from devstack.init.model import Result

WIDTH = 118  # comment lines are cut here


def render(result: Result) -> str:
    out: list[str] = []
    files = ", ".join(result.inputs.files) or "nothing"
    out += _comment(f"Written by `devstack init` from {files}. Every choice below has its reason; "
                    "`devstack init --dry-run` shows them as a table.", "")
    for note in result.notes:
        out += _comment(note, "")
    out += [f"project: {_scalar(result.project)}", "runtime: auto", "", "services:"]
    services = result.services
    if not services:
        out += _comment(f"Nothing in {files} names a service devstack runs, so this placeholder runs nothing "
                        f"(a manifest needs one service). Replace it with what the app uses: {', '.join(kinds.names())}.", "  ")
        out += ["  db:", "    kind: postgres", "    mode: off"]
    for svc in services:
        users = [d.var.name for d in result.decisions if d.service == svc.name and d.written]
        why = f"{svc.kind}, {svc.mode}: {svc.comment}"
        if users:
            why += f". Fills {', '.join(users[:6])}{', ...' if len(users) > 6 else ''}"
        out += _comment(why, "  ")
        body = len(out)
        out.append(f"  {svc.name}:")
        if svc.kind != svc.name:
            out.append(f"    kind: {svc.kind}")
        if svc.mode != kinds.modes(svc.kind)[0]:
            out.append(f"    mode: {svc.mode}")
        for key, value in svc.options.items():
            out += _option(key, value)
        if len(out) == body + 1:
            out[-1] += " {}"
    if result.secrets:
        out += ["", "secrets:"]
        for secret in result.secrets:
            out += _comment(secret.comment, "  ")
            out.append(f"  {secret.name}: {secret.spec}")
    out += ["", "env:"]
    out += _comment("Each kind's default names (DATABASE_URL, PGHOST, REDIS_URL, AWS_*, ...) are written too; "
                    "`defaults: false` drops them.", "  ")
    out.append(f"  file: {_scalar(result.env_file)}")
    for d in result.decisions:
        if not d.written:
            continue
        shown = {"config": "app config", "secret": "secret", "off": "off"}.get(d.category, d.label)
        why = d.reason if d.reason.lower().startswith(shown) else f"{shown}: {d.reason}"
        out += _comment(f"{why} ({d.var.where})", "  ")
        out.append(f"  {d.var.name}: {_env_value(d.value)}")
    skipped = [d for d in result.decisions if not d.written]
    if skipped:
        out += ["", "# Left out:"]
        for d in skipped:
            out += _comment(f"{d.var.name} ({d.var.where}): {d.reason}", "")
    return "\n".join(out) + "\n"


def _comment(text: str, indent: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(indent) + 2 + len(line) + 1 + len(word) > WIDTH:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return [f"{indent}# {x}" for x in lines[:4]]


def _scalar(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON scalars and lists are YAML flow values


def _option(key: str, value) -> list[str]:
    if isinstance(value, dict) and value:
        body = yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True)
        return [f"    {key}:"] + ["      " + line for line in body.splitlines()]
    return [f"    {key}: {_scalar(value)}"]


def _env_value(value: str) -> str:
    """Always a double-quoted YAML string; literal text that looks like a template is kept raw."""
    from devstack.expressions import SIMPLE

    if re.search(r"\{[{%#]", SIMPLE.sub("", value)):
        value = "{% raw %}" + value + "{% endraw %}"
    return json.dumps(value, ensure_ascii=False)


def write(path: Path, text: str, force: bool) -> None:
    """Atomic: a temp file next to it, then a no-clobber link (or a replace with --force)."""
    path = Path(path)
    if path.exists() and not force:
        raise UserError(f"{path} already exists", "pass --force to replace it, or --dry-run to see what init would write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}", "check that the folder exists and is writable, or pass -f PATH") from None
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if someone wrote it meanwhile: never clobbered
            except FileExistsError:
                raise UserError(f"{path} already exists", "pass --force to replace it") from None
            os.unlink(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def validate(text: str, directory: Path) -> None:
    """Load the text with devstack's own loader, as `up` will; a failure here is init's bug."""
    from devstack import manifest
    from devstack.errors import ManifestError

    try:
        fd, tmp = tempfile.mkstemp(prefix=".devstack-init.", suffix=".yaml", dir=directory)
    except OSError:
        fd, tmp = tempfile.mkstemp(prefix=".devstack-init.", suffix=".yaml")  # a read-only folder: write() will say so
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        manifest.load(Path(tmp))
    except ManifestError as exc:
        details = "; ".join(p.render("devstack.yaml") for p in exc.problems)
        raise UserError(f"devstack init made a manifest its own loader rejects: {details}",
                        "this is a bug in devstack init: please report it with the input files") from None
    finally:
        os.unlink(tmp)
