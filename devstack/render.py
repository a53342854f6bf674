"""Plan -> .devstack/compose.yaml and the app's .env (both only from the plan)."""

from __future__ import annotations

import json
import shlex
from functools import cache
from pathlib import Path

from devstack.fsutil import write_private
from devstack.plan import StackPlan

TEMPLATES = Path(__file__).resolve().parent.parent / "compose-templates"


@cache
def _templates():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def volume_name(svc) -> str:
    return f"{svc.name}-data"


def compose_dict(plan: StackPlan, bind: str = "127.0.0.1") -> dict:
    """The compose project as a dict: one template per kind, merged."""
    import yaml

    project: dict = {"name": plan.compose_project, "services": {}}
    for svc in plan.services.values():
        if svc.mode != "run":
            continue  # stubs run as host processes; off/external run nothing
        context = {
            "svc": svc,
            "o": svc.options,
            "out": svc.outputs,
            "stack": plan,
            "image": svc.kind.image(svc),
            "bind": bind,
            "volume": volume_name(svc),
            **svc.kind.compose_context(svc, plan),
        }
        fragment = yaml.safe_load(_templates().get_template(f"{svc.kind.name}.yaml.j2").render(context))
        project["services"].update(fragment.get("services", {}))
        if fragment.get("volumes"):
            project.setdefault("volumes", {}).update(fragment["volumes"])
        project["services"][svc.name].setdefault("labels", {})["dev.devstack.kind"] = svc.kind.name
    return project


def compose_yaml(plan: StackPlan, bind: str = "127.0.0.1") -> str:
    import yaml

    header = f"# Rendered by devstack from {plan.manifest_path.name}; edit that, not this.\n"
    return header + yaml.safe_dump(_escape_dollars(compose_dict(plan, bind)), sort_keys=False, width=1000)


def _escape_dollars(value):
    """Compose interpolates `$`; every value must reach the container as written.

    (So a healthcheck's `$POSTGRES_USER` is expanded by the container's shell.)
    """
    if isinstance(value, dict):
        return {k: _escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_dollars(v) for v in value]
    if isinstance(value, str):
        return value.replace("$", "$$")
    return value


def write_compose(plan: StackPlan, bind: str = "127.0.0.1") -> Path:
    # 0600: the file carries generated passwords.
    write_private(plan.compose_file, compose_yaml(plan, bind))
    return plan.compose_file


# -- env formats ------------------------------------------------------------------

def dotenv_value(value: str) -> str:
    """Quote only when needed; double quotes with escapes handle newlines (PEM keys)."""
    if not value:
        return ""
    if all(c.isalnum() or c in "_-.:/@%+=,~^*?[]!" for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "\\$")
    return f'"{escaped}"'


def format_env(env: dict[str, str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(env, indent=2) + "\n"
    if fmt == "shell":
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    return "".join(f"{k}={dotenv_value(v)}\n" for k, v in env.items())


def write_env(plan: StackPlan) -> Path:
    header = f"# Written by devstack from {plan.manifest_path.name}; `devstack render` rewrites it.\n"
    write_private(plan.env_file, header + format_env(plan.env, "dotenv"))
    return plan.env_file
