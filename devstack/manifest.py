"""Load and validate devstack.yaml into a Manifest.

Validation collects every problem (file:line, key path, what is allowed) and
raises them together as one ManifestError: a user mistake exits 2, no traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devstack import yamlpos
from devstack.errors import ManifestError, Problem, UserError
from devstack.options import allowed, check_value, suggest
from devstack.services import catalog
from devstack.services.base import MODES, Option

FILENAME = "devstack.yaml"
TOP_KEYS = ("project", "runtime", "services", "env", "secrets", "tools")
RUNTIMES = ("auto", "docker", "native")
SERVICE_KEYS = ("kind", "mode", "url", "seed")  # keys every service takes besides its kind's options
ENV_SETTINGS = ("file", "defaults")
SECRET_TYPES = ("hex", "base64", "token", "ed25519")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VERSION_RANGE_RE = re.compile(r"^\s*(\*|((>=|<=|==|>|<|~=|\^)?\s*\d+(\.\d+)*\s*,?\s*)+)\s*$")


@dataclass
class ServiceSpec:
    name: str
    kind: str
    mode: str
    options: dict[str, Any]  # the kind's options, defaults filled in (generated ones still None)
    seed: Any = None
    line: int | None = None


@dataclass
class SecretSpec:
    name: str
    type: str
    bytes: int = 32


@dataclass
class Manifest:
    path: Path
    project: str
    runtime: str
    services: dict[str, ServiceSpec]
    env: dict[str, str] = field(default_factory=dict)
    env_file: Path | None = None
    env_defaults: bool = True
    secrets: dict[str, SecretSpec] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    lines: yamlpos.Located | None = None

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        return self.root / ".devstack"

    def line(self, *path) -> int | None:
        return self.lines.line(tuple(path)) if self.lines else None


def find(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The manifest: -f PATH, else devstack.yaml here or in a parent directory."""
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_dir():
            path = path / FILENAME
        if not path.is_file():
            raise UserError(f"no manifest at {path}", "check the -f/--file path")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / FILENAME
        if candidate.is_file():
            return candidate
    raise UserError(f"no {FILENAME} in {here} or any parent directory", START_HINT)


# What a newcomer outside this repository needs to write a first manifest.
START_HINT = f"""`devstack init` writes one; or create {FILENAME} yourself, as small as:
          services:
            db: {{kind: postgres}}
            cache: {{kind: redis}}
        `devstack kinds` lists every kind and its options; -f PATH uses a manifest elsewhere"""


def load(path: Path) -> Manifest:
    path = Path(path).resolve()
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        located = yamlpos.load(text, str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(str(path), [Problem(f"invalid YAML: {problem}", line=line)]) from None
    return Validator(path, located).run()


class Validator:
    """Walks the parsed manifest once, collecting problems instead of stopping."""

    def __init__(self, path: Path, located: yamlpos.Located):
        self.path = path
        self.located = located
        self.problems: list[Problem] = []

    def problem(self, path: tuple, message: str, hint: str | None = None):
        self.problems.append(Problem(message, ".".join(map(str, path)), self.located.line(path), hint))

    def unknown(self, path: tuple, key, choices):
        self.problem(path + (key,), f"unknown key `{key}`", suggest(key, choices) or allowed(choices))

    def mapping(self, value, path: tuple) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {type(value).__name__}")
            return {}
        return value

    def run(self) -> Manifest:
        data = self.located.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem((), "the manifest must be a mapping with `services:` and friends")
            raise ManifestError(str(self.path), self.problems)
        for key in data:
            if key not in TOP_KEYS:
                self.unknown((), key, TOP_KEYS)

        project = data.get("project", self.path.parent.name)
        if not isinstance(project, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", project):
            self.problem(("project",), f"invalid project name {project!r}", "use letters, digits, `-`, `_`, `.`")
        runtime = data.get("runtime", "auto")
        if runtime not in RUNTIMES:
            self.problem(("runtime",), f"unknown runtime {runtime!r}", suggest(runtime, RUNTIMES) or allowed(RUNTIMES))

        services = self.services(self.mapping(data.get("services"), ("services",)))
        if not services and not self.problems:
            self.problem(("services",), "no services declared", "add at least one, e.g. `db: {kind: postgres}`")
        env, env_file, env_defaults = self.env(self.mapping(data.get("env"), ("env",)))
        secrets = self.secrets(self.mapping(data.get("secrets"), ("secrets",)))
        tools = self.tools(self.mapping(data.get("tools"), ("tools",)))
        if self.problems:
            raise ManifestError(str(self.path), self.problems)
        return Manifest(
            path=self.path,
            project=str(project),
            runtime=runtime,
            services=services,
            env=env,
            env_file=(self.path.parent / env_file) if env_file else self.path.parent / ".env",
            env_defaults=env_defaults,
            secrets=secrets,
            tools=tools,
            lines=self.located,
        )

    # -- services --------------------------------------------------------------
    def services(self, raw: dict) -> dict[str, ServiceSpec]:
        specs = {}
        for name, body in raw.items():
            path = ("services", name)
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.problem(path, f"invalid service name {name!r}", "use lower-case letters, digits and `_` (names are used in expressions like `{{ db.url }}`)")
                continue
            body = self.mapping(body, path)
            spec = self.service(name, body, path)
            if spec:
                specs[name] = spec
        return specs

    def service(self, name: str, body: dict, path: tuple) -> ServiceSpec | None:
        kind_name = body.get("kind", name)
        kind = catalog.get(kind_name)
        if kind is None:
            where = path + ("kind",) if "kind" in body else path
            hint = suggest(kind_name, catalog.names()) or allowed(catalog.names())
            what = f"unknown kind `{kind_name}`" if "kind" in body else f"`{name}` is not a kind; set `kind:`"
            self.problem(where, what, hint)
            return None
        mode = body.get("mode", kind.modes[0])
        if mode is False:  # YAML 1.1 reads a bare `off` as false
            mode = "off"
        if mode not in kind.modes:
            hint = f"{kind.name} supports: {', '.join(kind.modes)}"
            if mode not in MODES:
                hint = suggest(mode, MODES) or hint
            self.problem(path + ("mode",), f"mode `{mode}` is not available for kind {kind.name}", hint)
        options: dict[str, Any] = {}
        schema: dict[str, Option] = kind.all_options()
        for key, value in body.items():
            if key in SERVICE_KEYS:
                continue
            if key not in schema:
                self.unknown(path, key, list(schema) + list(SERVICE_KEYS))
                continue
            message = check_value(schema[key], value)
            if message:
                self.problem(path + (key,), message, schema[key].help or None)
                continue
            options[key] = value
        for key, option in schema.items():
            options.setdefault(key, option.default)
        if mode == "external":
            url = body.get("url")
            if not isinstance(url, str) or "://" not in url:
                self.problem(path + ("url",), "mode external needs `url:` (a URL with a scheme)", "e.g. url: postgresql://user:pass@db.example:5432/app")
            else:
                options["url"] = url
        elif "url" in body:
            self.problem(path + ("url",), "`url` only goes with `mode: external`")
        for option, message in kind.check(options):
            self.problem(path + (option,), message)
        return ServiceSpec(name, kind.name, mode, options, body.get("seed"), self.located.line(path))

    # -- env, secrets, tools ------------------------------------------------------
    def env(self, raw: dict):
        variables, env_file, defaults = {}, None, True
        for key, value in raw.items():
            path = ("env", key)
            if key == "file":
                if not isinstance(value, str) or not value:
                    self.problem(path, "expected a file path such as `.env` or `backend/.env`")
                else:
                    env_file = value
            elif key == "defaults":
                if not isinstance(value, bool):
                    self.problem(path, f"expected true or false, got {value!r}")
                else:
                    defaults = value
            elif isinstance(key, str) and key[:1].islower():
                self.unknown(("env",), key, ENV_SETTINGS)
            elif not isinstance(key, str) or not ENV_NAME_RE.match(key):
                self.problem(path, f"invalid variable name {key!r}", "use letters, digits and `_`")
            elif isinstance(value, bool):
                variables[key] = "true" if value else "false"
            elif isinstance(value, (str, int, float)):
                variables[key] = str(value)
            elif value is None:
                variables[key] = ""
            else:
                self.problem(path, f"expected a string expression, got {type(value).__name__}", 'e.g. "{{ db.url }}"')
        return variables, env_file, defaults

    def secrets(self, raw: dict) -> dict[str, SecretSpec]:
        result = {}
        for name, body in raw.items():
            path = ("secrets", name)
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.problem(path, f"invalid secret name {name!r}", "use lower-case letters, digits and `_`")
                continue
            if isinstance(body, str):  # shorthand: "hex:32", "ed25519"
                kind, _, size = body.partition(":")
                body = {"type": kind, **({"bytes": int(size)} if size.isdigit() else {})}
            body = self.mapping(body, path)
            kind = body.get("type", "hex")
            if kind not in SECRET_TYPES:
                self.problem(path + ("type",), f"unknown secret type {kind!r}", suggest(kind, SECRET_TYPES) or allowed(SECRET_TYPES))
                continue
            size = body.get("bytes", 32)
            if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
                self.problem(path + ("bytes",), f"expected a whole number of bytes from 8 to 1024, got {size!r}")
                continue
            for key in body:
                if key not in ("type", "bytes"):
                    self.unknown(path, key, ("type", "bytes"))
            result[name] = SecretSpec(name, kind, size)
        return result

    def tools(self, raw: dict) -> dict[str, str]:
        result = {}
        for name, spec in raw.items():
            spec = "*" if spec is None else str(spec)
            if not VERSION_RANGE_RE.match(spec):
                self.problem(("tools", name), f"invalid version range {spec!r}", 'e.g. "*", ">= 20", ">=1.2, <2"')
                continue
            result[str(name)] = spec
        return result
