"""Plan -> .devstack/compose.yaml and the app's .env (both only from the plan)."""

from __future__ import annotations

import json
import re
import shlex
import sys
from functools import cache
from pathlib import Path

from devstack.fsutil import write_private
from devstack.plan import StackPlan
from devstack.services.base import TEMPLATES_PACKAGE



def _template_dir() -> Path:
    """compose-templates/ beside the package in a source tree (editable install),
    devstack/compose_templates/ inside a wheel."""
    here = Path(__file__).resolve().parent
    source = here.parent / "compose-templates"
    return source if source.is_dir() else here / "compose_templates"


TEMPLATES = _template_dir()


def template_source(kind) -> tuple[str, str]:
    """(text, file name) of a kind's compose template: devstack's own from
    compose-templates/ (or the wheel's copy), a plugin's from its package."""
    from devstack.errors import UserError

    if kind.template is None:
        raise UserError(f"kind {kind.name} has no Docker side (no compose template)",
                        "run it with `--runtime native`, or use `mode: stub` / `mode: off`")
    package, resource = kind.template
    if package == TEMPLATES_PACKAGE:
        path = TEMPLATES / resource
        try:
            return path.read_text(), str(path)
        except FileNotFoundError:
            pass
    else:
        import importlib.resources

        try:
            found = importlib.resources.files(package).joinpath(resource)
            return found.read_text(), str(found)
        except (ImportError, TypeError, OSError):
            pass
    raise UserError(f"kind {kind.name}: its compose template {resource} is not in package {package}",
                    "the kind's distribution must ship it as package data (or run it with `--runtime native`)")


@cache
def _templates():
    import jinja2

    from devstack.ports import home
    from devstack.services import catalog

    def load(name: str):
        text, filename = template_source(catalog.get(name))
        return text, filename, lambda: True

    # Compiled templates are kept (keyed by source and Jinja version): compiling
    # them was a third of the time `up` spends before it starts compose.
    cache_dir = home() / "cache" / "jinja2"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        bytecode = jinja2.FileSystemBytecodeCache(str(cache_dir))
    except OSError:
        bytecode = None
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),  # a template's name is its kind's
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=bytecode,
    )
    # Same calling convention as Jinja's own tojson (compiled templates in the
    # bytecode cache pass the eval context first).
    env.filters["tojson"] = jinja2.pass_eval_context(lambda _ctx, value, indent=None: yaml_quoted(value))
    return env


_SURROGATES = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def yaml_quoted(value) -> str:
    """A value as a YAML double-quoted scalar (the templates' `tojson`).

    JSON writes a character outside the BMP as a surrogate pair (`"\\ud83d\\udca5"`),
    which YAML refuses: a `database: "💥"` broke the compose file. YAML's own
    `\\U0001f4a5` escape says the same."""
    def join(m):
        return "\\U%08x" % (0x10000 + ((int(m[1], 16) - 0xD800) << 10) + (int(m[2], 16) - 0xDC00))

    return _SURROGATES.sub(join, json.dumps(value))


# Docker's default bridge, not a per-project network: the services only talk to
# the app on the host, and a project network costs every `up` ~0.2 s on a 2-core
# machine (compose creates the network, then the engine sets up embedded DNS in
# each container). It also leaves no network to clean up after `down`.
DEFAULT_NETWORK = "bridge"


def volume_name(svc) -> str:
    return f"{svc.name}-data"


def compose_dict(plan: StackPlan, bind: str = "127.0.0.1") -> dict:
    """The compose project as a dict: one template per kind, merged."""
    import yaml

    project: dict = {"name": plan.compose_project, "services": {}}
    for svc in plan.services.values():
        if not svc.in_container:
            continue  # stand-ins run as host processes; off/external run nothing
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
        fragment = yaml.load(_templates().get_template(svc.kind.name).render(context), Loader=_yaml_loader())
        project["services"].update(fragment.get("services", {}))
        if fragment.get("volumes"):
            project.setdefault("volumes", {}).update(fragment["volumes"])
        service = project["services"][svc.name]
        service.setdefault("labels", {})["dev.devstack.kind"] = svc.kind.name
        if "networks" not in service:
            service.setdefault("network_mode", DEFAULT_NETWORK)
    return project


def compose_yaml(plan: StackPlan, bind: str = "127.0.0.1") -> str:
    import yaml

    header = f"# Rendered by devstack from {plan.manifest_path.name}; edit that, not this.\n"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ~4x faster
    return header + yaml.dump(_escape_dollars(compose_dict(plan, bind)), Dumper=dumper, sort_keys=False, width=1000)


def _yaml_loader():
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    current_compose(plan, bind)
    return plan.compose_file


def current_compose(plan: StackPlan, bind: str = "127.0.0.1") -> str:
    """The compose file for this plan, written if it changed.

    Rendering imports Jinja2 and runs every template (~40 ms of `up` before
    compose can start), so the file on disk is reused while everything it is
    made from is the same: the plan's services, the templates and the code
    that renders them (.devstack/compose.key holds their digest).
    """
    key_file = plan.compose_file.with_name("compose.key")
    key = _compose_key(plan, bind)
    try:
        if key_file.read_text() == key:
            return plan.compose_file.read_text()
    except OSError:
        pass
    text = compose_yaml(plan, bind)
    try:
        unchanged = plan.compose_file.read_text() == text
    except OSError:
        unchanged = False
    if not unchanged:
        write_private(plan.compose_file, text)  # 0600: the file carries generated passwords
    write_private(key_file, key)
    return text


def _compose_key(plan: StackPlan, bind: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted([Path(__file__), *(package / "services").glob("*.py"), *TEMPLATES.glob("*.j2")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for kind in sorted({s.kind for s in plan.services.values() if s.in_container}, key=lambda k: k.name):
        if kind.template and kind.template[0] != TEMPLATES_PACKAGE:  # a plugin's kind: its module and template
            module = sys.modules[type(kind).__module__]
            digest.update(Path(module.__file__).read_bytes() + b"\0" + template_source(kind)[0].encode())
    services = [[s.name, s.kind.name, s.mode, s.kind.image(s), s.ports, s.options, s.outputs]
                for s in plan.services.values() if s.in_container]
    digest.update(json.dumps([plan.compose_project, plan.manifest_path.name, bind, services], sort_keys=True, default=str).encode())
    return digest.hexdigest()


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


def relative_to_root(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
