"""What every service kind declares; one subclass per kind in this package.

A kind is the only place that knows its service: typed options, the ports it
publishes, its canonical outputs, the app-facing default env names, its compose
template, how it runs natively, how readiness is proven and how it is seeded.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devstack.errors import NotReady  # noqa: F401  (re-exported: kinds raise it)

if TYPE_CHECKING:  # pragma: no cover
    from devstack.plan import ServicePlan, StackPlan
    from devstack.services.spec import Host, NativeSpec, Wanted

MODES = ("run", "stub", "off", "external")
# Outputs the plan gives every service besides its kind's own.
COMMON_OUTPUTS = {
    "enabled": "\"true\", or \"false\" with `mode: off` (then no other output is set)",
    "mode": "the service's mode: run, stub or external",
}


@dataclass(frozen=True)
class Option:
    """One typed option of a kind, with its default and a one-line description."""

    type: type | tuple[type, ...]
    default: Any = None
    help: str = ""
    choices: tuple = ()
    # A generator spec ("password", "hex:16", ...) for credentials made when unset;
    # generated values are kept with the project's secrets, stable across runs.
    generate: str | None = None
    # Values that would end up inside a shell/eval must not carry these characters.
    forbid_chars: str = ""
    # Newlines and tabs allowed (a shell command); other control characters never.
    # Off for every other string: values end up in config files and command lines.
    multiline: bool = False


@dataclass(frozen=True)
class Port:
    """A port the service listens on: container side, and what it carries."""

    container: int
    protocol: str = "tcp"  # tcp | udp | both
    count: int = 1  # >1 for ranges (TURN relays): host range == container range


class Kind:
    """Base class of the catalog. Subclasses set the class attributes.

    Checked and completed when a subclass is defined (__init_subclass__): its
    `all_options()` hold one host-port option per published port, and its
    compose template defaults to `<name>.yaml.j2` beside its module.
    """

    name: str = ""
    summary: str = ""
    modes: tuple[str, ...] = ("run", "off", "external")
    options: dict[str, Option] = {}
    ports: dict[str, Port] = {}
    # Every output usable in `{{ }}` expressions: name -> what it is, in a line.
    # `outputs()` returns exactly these (a test checks every kind).
    output_help: dict[str, str] = {}
    # App-facing variable -> Jinja expression over this service's outputs.
    default_env: dict[str, str] = {}
    # Names of outputs that are secrets (never printed in status/doctor).
    secret_outputs: tuple[str, ...] = ("password", "secret_key", "api_secret", "secret")
    default_port_base: int = 0  # the well-known port tried first (0: none)
    # Natively, without its own binary (the usual case), `mode: run` runs one of
    # devstack's stand-ins: `up` pre-starts the stand-ins' helper for it.
    standin_when_no_binary: bool = False
    # Its stand-in records what it receives (GET /_devstack/requests on its `url`),
    # for tests to read (the pytest plugin's devstack_stub_log).
    records_requests: bool = False
    # Fixtures (`seed:`): the module whose `seeder` class loads them, and the light
    # class ("module:Class") that checks `seed:` on every command without the
    # loader's imports (None: the seeder checks it itself). Runs in devstack.seed.
    seeder: str | None = None
    seed_spec: str | None = None
    # The compose fragment for `mode: run` under Docker: (package, resource name).
    # Default: <name>.yaml.j2 in the kind's own package; devstack's own kinds
    # use compose-templates/ (package devstack.compose_templates in a wheel).
    # None: the kind has no Docker side (stand-ins always run as host processes).
    template: tuple[str, str] | None = None
    # The reference (`devstack kinds <kind>`, docs/kinds.md): what runs, in a line each.
    docker: str = ""  # e.g. "postgres:<version>, the official image"
    native_binary: str = ""  # e.g. "host initdb + postgres (Debian: postgresql)"
    standin: str = ""  # devstack's stand-in, and when it runs
    standin_lacks: str = ""  # what the stand-in does not do
    # What the host must get right for this kind, and why (`devstack doctor`
    # checks only these): "clock", "dns", "loopback".
    host_needs: dict[str, str] = {}

    _all_options: dict[str, Option] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        clash = sorted(set(cls.options) & set(cls.ports))
        if clash:
            raise TypeError(f"kind {cls.name or cls.__name__}: {', '.join(clash)} is both an option and a port")
        cls._all_options = {**cls.options, **{name: Option(int, None, _port_help(p)) for name, p in cls.ports.items()}}
        if "template" not in cls.__dict__ and cls.name:
            cls.template = default_template(cls) if "run" in cls.modes else None

    def all_options(self) -> dict[str, Option]:
        """The kind's own options plus one host-port option per published port."""
        return self._all_options

    def runs_on_host(self, mode: str, options: dict[str, Any]) -> bool:
        """Runs as a process on this machine even under the Docker runtime (devstack's stand-ins).
        The runtimes and the compose file ask this, never a kind's name."""
        return mode == "stub"

    # -- plan ---------------------------------------------------------------
    def image(self, svc: "ServicePlan") -> str | None:
        return svc.options.get("image")

    def outputs(self, svc: "ServicePlan", stack: "StackPlan") -> dict[str, Any]:
        raise NotImplementedError

    def external_outputs(self, svc: "ServicePlan") -> dict[str, Any]:
        """Outputs of `mode: external`: the URL the user gave, split up."""
        url = svc.options["url"]
        parts = urllib.parse.urlsplit(url)
        return {
            "url": url,
            "host": parts.hostname or "",
            "port": parts.port or "",
            "user": urllib.parse.unquote(parts.username or ""),
            "password": urllib.parse.unquote(parts.password or ""),
            "database": parts.path.lstrip("/"),
        }

    def check(self, options: dict[str, Any]) -> list[tuple[str, str]]:
        """Cross-option checks: [(option, message)]. Types are checked already."""
        return []

    # -- runtimes -------------------------------------------------------------
    def compose_context(self, svc: "ServicePlan", stack: "StackPlan") -> dict[str, Any]:
        """Extra values for compose-templates/<kind>.yaml.j2 (svc and stack are always there)."""
        return {}

    def native(self, svc: "ServicePlan", stack: "StackPlan", host: "Host") -> "NativeSpec":
        """How to run this service as a local process: a services.spec.NativeSpec.

        Writes nothing (`status`, `doctor` and `down` build it too); asks `host`
        where programs are and where data goes; the runtime does the rest."""
        raise NotImplementedError(f"{self.name} has no native runner yet")

    def wanted(self, svc: "ServicePlan") -> tuple["Wanted", ...]:
        """The host programs native() looks for (with install hints and version
        ranges), for `devstack doctor` to check; native() uses the same."""
        return ()

    def ready(self, svc: "ServicePlan", stack: "StackPlan") -> None:
        """Raise NotReady unless the service answers its real protocol."""
        raise NotImplementedError(f"{self.name} has no readiness check yet")


VERSION_RE = re.compile(r"^\d+(\.\d+){0,2}$")  # an image tag's version: 2, 2.10, 2.10.4


def version_problems(kind: Kind, options: dict[str, Any]) -> list[tuple[str, str]]:
    """[("version", why)] unless `version:` is a tag version such as the kind's default."""
    version = str(options["version"])
    if VERSION_RE.match(version):
        return []
    return [("version", f"expected a version such as {kind.options['version'].default}, got {version!r}")]


def url_quote(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


def _port_help(port: Port) -> str:
    what = {"udp": " (udp)", "both": " (tcp and udp)"}.get(port.protocol, "")
    if port.count > 1:
        text = f"first of {port.count} host ports{what}, the same range inside the container"
    elif port.container:
        text = f"host port for container port {port.container}{what}"
    else:
        text = f"host port{what}"
    return text + "; allocated (stable per project) when unset"


def default_template(cls: type) -> tuple[str, str]:
    """(package, "<name>.yaml.j2"): devstack's own kinds in compose-templates/, a
    plugin's beside its module (in the module's package, or the package itself)."""
    import sys

    module = cls.__module__
    if module == "devstack" or module.startswith("devstack."):
        return (TEMPLATES_PACKAGE, f"{cls.name}.yaml.j2")
    loaded = sys.modules.get(module)
    is_package = loaded is not None and getattr(loaded, "__path__", None) is not None
    return (module if is_package else module.rpartition(".")[0] or module, f"{cls.name}.yaml.j2")


# devstack's own compose templates: compose-templates/ in a source tree, this
# package inside a wheel (setup.py maps one to the other).
TEMPLATES_PACKAGE = "devstack.compose_templates"
