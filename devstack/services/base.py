"""What every service kind declares; one subclass per kind in this package.

A kind is the only place that knows its service: typed options, the ports it
publishes, its canonical outputs, the app-facing default env names, its compose
template, how it runs natively, how readiness is proven and how it is seeded.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from devstack.plan import ServicePlan, StackPlan

MODES = ("run", "stub", "off", "external")


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


@dataclass(frozen=True)
class Port:
    """A port the service listens on: container side, and what it carries."""

    container: int
    protocol: str = "tcp"  # tcp | udp | both
    count: int = 1  # >1 for ranges (TURN relays): host range == container range


class Kind:
    """Base class of the catalog. Subclasses set the class attributes."""

    name: str = ""
    summary: str = ""
    modes: tuple[str, ...] = ("run", "off", "external")
    options: dict[str, Option] = {}
    ports: dict[str, Port] = {}
    # App-facing variable -> Jinja expression over this service's outputs.
    default_env: dict[str, str] = {}
    # Names of outputs that are secrets (never printed in status/doctor).
    secret_outputs: tuple[str, ...] = ("password", "secret_key", "api_secret", "secret")
    default_port_base: int = 0  # the well-known port tried first (0: none)
    # Natively, without its own binary (the usual case), `mode: run` runs one of
    # devstack's stand-ins: `up` pre-starts the stand-ins' helper for it.
    standin_when_no_binary: bool = False

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

    def native(self, svc: "ServicePlan", stack: "StackPlan"):
        """How to run this service as a local process (a runtime.native.Process)."""
        raise NotImplementedError(f"{self.name} has no native runner yet")

    def ready(self, svc: "ServicePlan", stack: "StackPlan") -> None:
        """Raise NotReady unless the service answers its real protocol."""
        raise NotImplementedError(f"{self.name} has no readiness check yet")


class NotReady(Exception):
    """Readiness probe failed this time; the message says what was seen."""


def url_quote(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


def _port_options(kind: "Kind") -> dict[str, Option]:
    return {name: Option(int, None, f"host port for container port {p.container}; allocated (stable per project) when unset") for name, p in kind.ports.items()}


def all_options(self) -> dict[str, Option]:
    """The kind's own options plus one host-port option per published port."""
    return {**self.options, **_port_options(self)}


Kind.all_options = all_options
