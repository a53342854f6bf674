"""Load and validate devstack.yaml into a Manifest.

Validation collects every problem (file:line, key path, what is allowed) and
raises them together as one ManifestError: a user mistake exits 2, no traceback.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devstack import yamlpos
from devstack.errors import ManifestError, Problem, UserError
from devstack.fsutil import inside
from devstack.options import CONTROL, allowed, check_value, cut, shown, suggest
from devstack.services import catalog
from devstack.services.base import MODES, Option

FILENAME = "devstack.yaml"
TOP_KEYS = ("project", "runtime", "services", "env", "secrets", "tools", "allow_outside_project")
MAX_BYTES = 256 * 1024  # real manifests are a few KB; bounds parse time and memory
RUNTIMES = ("auto", "docker", "native")
SERVICE_KEYS = ("kind", "mode", "url", "seed")  # keys every service takes besides its kind's options
ENV_SETTINGS = ("file", "defaults")
SECRET_TYPES = ("hex", "base64", "token", "ed25519")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # names become paths, compose names, env prefixes
PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
SIZE_RE = re.compile(r"^[0-9]+$")  # str.isdigit() also takes `²`
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
    # Directories outside the project that `seed:` and `env.file` may use
    # (`allow_outside_project:`); the project's own directory always.
    outside_dirs: list[Path] = field(default_factory=list)
    # Services with a problem reported already (those too broken to use are not
    # in `services`): expressions that name them are not reported again.
    flawed: set[str] = field(default_factory=set)
    state: Path | None = None  # another stack of this manifest (a test session's): its own state dir

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        return self.state or self.root / ".devstack"

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
    """The manifest, or ManifestError with every problem the manifest itself shows
    (see project.load_manifest for the checks that need the catalog's outputs and
    the seed files)."""
    manifest, problems = validate(path)
    if problems:
        raise ManifestError(str(manifest.path), problems)
    return manifest


def validate(path: Path) -> tuple[Manifest, list[Problem]]:
    """(what validated, the problems): the Manifest holds the valid parts only.
    A file that cannot be parsed at all raises ManifestError at once."""
    path = Path(path).resolve()
    located = parse(path)
    validator = Validator(path, located)
    return validator.run(), validator.problems


def parse(path: Path) -> yamlpos.Located:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ManifestError(str(path), [Problem(f"larger than {MAX_BYTES // 1024} KiB; a manifest lists services, not data",
                                                hint="put data in seed files")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(str(path), [Problem(f"not UTF-8 text (byte {raw[exc.start]:#04x})", line=line,
                                                hint="save the file as UTF-8")]) from None
    try:
        return yamlpos.load(text, str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(str(path), [Problem(f"invalid YAML: {problem}", line=line)]) from None


class Validator:
    """Walks the parsed manifest once, collecting problems instead of stopping."""

    def __init__(self, path: Path, located: yamlpos.Located):
        self.path = path
        self.root = path.parent
        self.located = located
        self.problems: list[Problem] = []
        self.flawed: set[str] = set()

    def problem(self, path: tuple, message: str, hint: str | None = None):
        if len(path) > 1 and path[0] == "services":
            self.flawed.add(str(path[1]))
        self.problems.append(Problem(message, ".".join(map(str, path)), self.located.line(path), hint))

    def unknown(self, path: tuple, key, choices):
        self.problem(path + (key,), f"unknown key `{cut(key)}`", suggest(key, choices) or allowed(choices))

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
        for path, line in self.located.duplicates:
            self.problems.append(Problem(f"`{cut(path[-1])}` is given twice in this mapping (YAML keeps only the last)",
                                         ".".join(map(str, path)), line, "remove one of them"))

        project = data.get("project", self.root.name)
        if not isinstance(project, str) or not PROJECT_RE.match(project):
            self.problem(("project",), f"invalid project name {shown(project)}", "up to 63 letters, digits, `-`, `_`, `.`")
            project = "invalid"
        runtime = data.get("runtime", "auto")
        if not isinstance(runtime, str) or runtime not in RUNTIMES:
            self.problem(("runtime",), f"unknown runtime {shown(runtime)}", suggest(runtime, RUNTIMES) or allowed(RUNTIMES))
            runtime = "auto"

        outside = self.outside_dirs(data.get("allow_outside_project"))
        services = self.services(self.mapping(data.get("services"), ("services",)))
        if not services and not self.problems:
            self.problem(("services",), "no services declared", "add at least one, e.g. `db: {kind: postgres}`")
        self.fixed_ports(services)
        env, env_file, env_defaults = self.env(self.mapping(data.get("env"), ("env",)), outside)
        secrets = self.secrets(self.mapping(data.get("secrets"), ("secrets",)))
        tools = self.tools(self.mapping(data.get("tools"), ("tools",)))
        return Manifest(
            path=self.path,
            project=str(project),
            runtime=runtime,
            services=services,
            env=env,
            env_file=env_file or self.root / ".env",
            env_defaults=env_defaults,
            secrets=secrets,
            tools=tools,
            lines=self.located,
            outside_dirs=outside,
            flawed=self.flawed,
        )

    # -- paths -------------------------------------------------------------------
    def outside_dirs(self, raw) -> list[Path]:
        """`allow_outside_project: [../shared/fixtures]`: directories outside the
        project that seed files and env.file may use, said explicitly."""
        path = ("allow_outside_project",)
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        dirs = []
        for i, item in enumerate(items):
            where = path + (i,) if isinstance(raw, list) else path
            if not isinstance(item, str) or not item.strip() or CONTROL.search(item):
                self.problem(where, f"expected a directory path, got {shown(item)}", "e.g. allow_outside_project: [../shared/fixtures]")
                continue
            try:
                directory = self.resolve(item)
                if not directory.is_dir():
                    self.problem(where, f"not a directory: {cut(directory, 200)}")
                    continue
            except (OSError, RuntimeError) as exc:  # a name too long, a loop of symlinks
                self.problem(where, f"cannot use {shown(item)}: {getattr(exc, 'strerror', None) or exc}")
                continue
            dirs.append(directory)
        return dirs

    def resolve(self, value: str) -> Path:
        raw = os.path.expanduser(value)
        return Path(os.path.realpath(Path(raw) if os.path.isabs(raw) else self.root / raw))

    # -- services --------------------------------------------------------------
    def services(self, raw: dict) -> dict[str, ServiceSpec]:
        specs = {}
        for name, body in raw.items():
            path = ("services", name)
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.problem(path, f"invalid service name {shown(name)}", "up to 63 lower-case letters, digits and `_`, starting with a letter "
                             "(names are used in expressions like `{{ db.url }}`)")
                continue
            body = self.mapping(body, path)
            spec = self.service(name, body, path)
            if spec:
                specs[name] = spec
        return specs

    def service(self, name: str, body: dict, path: tuple) -> ServiceSpec | None:
        kind_name = body.get("kind", name)
        kind = catalog.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            where = path + ("kind",) if "kind" in body else path
            hint = suggest(kind_name, catalog.names()) or allowed(catalog.names())
            what = f"unknown kind `{cut(kind_name)}`" if "kind" in body else f"`{name}` is not a kind; set `kind:`"
            self.problem(where, what, hint)
            return None
        mode = body.get("mode", kind.modes[0])
        if mode is False:  # YAML 1.1 reads a bare `off` as false
            mode = "off"
        if not isinstance(mode, str) or mode not in kind.modes:
            hint = f"{kind.name} supports: {', '.join(kind.modes)}"
            if mode not in MODES:
                hint = suggest(mode, MODES) or hint
            self.problem(path + ("mode",), f"mode `{cut(mode)}` is not available for kind {kind.name}", hint)
            mode = kind.modes[0]
        options: dict[str, Any] = {}
        schema: dict[str, Option] = kind.all_options()
        for key, value in body.items():
            if key in SERVICE_KEYS:
                continue
            if key not in schema:
                self.unknown(path, key, list(schema) + list(SERVICE_KEYS))
                continue
            message = check_value(schema[key], value)
            hint = schema[key].help or None
            if message is None and key in kind.ports:
                message = self.port_range(value, kind.ports[key].count)
                hint = "a port from 1 to 65535, or none: devstack picks a free one and keeps it"
            if message:
                self.problem(path + (key,), message, hint)
                continue
            options[key] = value
        for key, option in schema.items():
            options.setdefault(key, option.default)
        if mode == "external":
            url = body.get("url")
            message = url_problem(url)
            if message:
                self.problem(path + ("url",), message, "e.g. url: postgresql://user:pass@db.example:5432/app")
            else:
                options["url"] = url
        elif "url" in body:
            self.problem(path + ("url",), "`url` only goes with `mode: external`")
        for option, message in kind.check(options):
            self.problem(path + (option,), message)
        return ServiceSpec(name, kind.name, mode, options, body.get("seed"), self.located.line(path))

    @staticmethod
    def port_range(value: int, count: int) -> str | None:
        last = value + count - 1
        if not 1 <= value <= 65535 or last > 65535:
            span = f"{value}-{last}" if count > 1 else str(value)
            return f"port {span} is outside 1-65535"
        return None

    def fixed_ports(self, services: dict[str, ServiceSpec]) -> None:
        """Two services (or two ports of one) on one `port:` set in the manifest can never both start."""
        taken: dict[tuple[str, int], tuple[str, str]] = {}  # (protocol, port) -> (service, option)
        for name, spec in services.items():
            if spec.mode not in ("run", "stub"):
                continue
            kind = catalog.get(spec.kind)
            for option, port in kind.ports.items():
                first = spec.options.get(option)
                if not isinstance(first, int) or isinstance(first, bool):
                    continue
                protocols = ("tcp", "udp") if port.protocol == "both" else (port.protocol,)
                clash = None
                for number in range(first, first + port.count):
                    for protocol in protocols:
                        clash = clash or taken.get((protocol, number))
                        taken.setdefault((protocol, number), (name, option))
                if clash:
                    other, other_option = clash
                    line = self.located.line(("services", other, other_option))
                    self.problem(("services", name, option), f"port {first} is also set for services.{other}.{other_option}"
                                 + (f" (line {line})" if line else ""), "give each service its own port, or remove it: devstack picks a free one and keeps it")

    # -- env, secrets, tools ------------------------------------------------------
    def env(self, raw: dict, outside: list[Path]):
        variables, env_file, defaults = {}, None, True
        for key, value in raw.items():
            path = ("env", key)
            if key == "file":
                env_file = self.env_file(value, path, outside)
            elif key == "defaults":
                if not isinstance(value, bool):
                    self.problem(path, f"expected true or false, got {shown(value)}")
                else:
                    defaults = value
            elif isinstance(key, str) and key[:1].islower():
                self.unknown(("env",), key, ENV_SETTINGS)
            elif not isinstance(key, str) or not ENV_NAME_RE.match(key):
                self.problem(path, f"invalid variable name {shown(key)}", "use letters, digits and `_`")
            elif isinstance(value, bool):
                variables[key] = "true" if value else "false"
            elif isinstance(value, (str, int, float)):
                variables[key] = str(value)
            elif value is None:
                variables[key] = ""
            else:
                self.problem(path, f"expected a string expression, got {type(value).__name__}", 'e.g. "{{ db.url }}"')
        return variables, env_file, defaults

    def env_file(self, value, path: tuple, outside: list[Path]) -> Path | None:
        if not isinstance(value, str) or not value.strip() or CONTROL.search(value):
            self.problem(path, "expected a file path such as `.env` or `backend/.env`")
            return None
        target = self.resolve(value)
        where = inside(target, [self.root, *outside])
        if where is None:
            self.problem(path, f"`{cut(value, 80)}` is outside the project ({self.root})",
                         "devstack writes this file: keep it in the project, or list its directory under `allow_outside_project:`")
            return None
        try:
            is_dir = target.is_dir()
            if os.path.lexists(target.parent) and not target.parent.is_dir():  # e.g. a loop of symlinks
                self.problem(path, f"`{cut(value, 80)}`: {target.parent.name} is not a directory")
                return None
        except OSError as exc:  # a name too long
            self.problem(path, f"cannot use `{cut(value, 80)}`: {exc.strerror}")
            return None
        if target == self.path or is_dir:
            self.problem(path, f"`{cut(value, 80)}` is {'the manifest itself' if target == self.path else 'a directory'}", "e.g. file: .env")
            return None
        return target

    def secrets(self, raw: dict) -> dict[str, SecretSpec]:
        result = {}
        for name, body in raw.items():
            path = ("secrets", name)
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.problem(path, f"invalid secret name {shown(name)}", "up to 63 lower-case letters, digits and `_`")
                continue
            spec = self.secret(name, body, path)
            if spec:
                result[name] = spec
        return result

    def secret(self, name: str, body, path: tuple) -> SecretSpec | None:
        shorthand = isinstance(body, str)
        if shorthand:  # "hex:32", "ed25519"
            kind, colon, size = body.partition(":")
            if colon and not SIZE_RE.match(size.strip()):
                self.problem(path, f"invalid size in {shown(body)}: expected a whole number of bytes",
                             f'e.g. "{kind or "hex"}:32"; 8 to 1024 bytes')
                return None
            body = {"type": kind.strip(), **({"bytes": int(size)} if colon else {})}
        body = self.mapping(body, path)
        ok = True
        for key in body:
            if key not in ("type", "bytes"):
                self.unknown(path, key, ("type", "bytes"))
                ok = False
        kind = body.get("type", "hex")
        if not isinstance(kind, str) or kind not in SECRET_TYPES:
            self.problem(path if shorthand else path + ("type",), f"unknown secret type {shown(kind)}",
                         suggest(kind, SECRET_TYPES) or allowed(SECRET_TYPES))
            return None
        size = body.get("bytes", 32)
        if kind == "ed25519" and "bytes" in body:
            self.problem(path if shorthand else path + ("bytes",), "an ed25519 key has a fixed size; drop the size", 'e.g. "ed25519"')
            return None
        if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
            self.problem(path if shorthand else path + ("bytes",), f"expected a whole number of bytes from 8 to 1024, got {shown(size)}")
            return None
        return SecretSpec(name, kind, size) if ok else None

    def tools(self, raw: dict) -> dict[str, str]:
        result = {}
        for name, spec in raw.items():
            spec = "*" if spec is None else spec
            if not isinstance(name, str) or not isinstance(spec, (str, int, float)) or not VERSION_RANGE_RE.match(str(spec)):
                self.problem(("tools", name), f"invalid version range {shown(spec)}", 'e.g. "*", ">= 20", ">=1.2, <2"')
                continue
            result[name] = str(spec)
        return result


def url_problem(url) -> str | None:
    """Why an external `url:` cannot be used, or None."""
    if not isinstance(url, str) or "://" not in url:
        return "mode external needs `url:` (a URL with a scheme)"
    if CONTROL.search(url) or " " in url:
        return "the URL must not contain spaces or control characters (percent-encode them)"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises on a port outside 0-65535 or not a number
    except ValueError as exc:
        return f"invalid URL {shown(url, 80)}: {exc}"
    if not parts.scheme or not parts.hostname:
        return f"invalid URL {shown(url, 80)}: expected scheme://host[:port]/..."
    if parts.port == 0:
        return f"invalid URL {shown(url, 80)}: port 0"
    return None
