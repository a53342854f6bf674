"""What a runtime does; the CLI and the pytest plugin only talk to this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from devstack.plan import StackPlan

Progress = Callable[[str], None]


@dataclass
class ServiceState:
    name: str
    kind: str
    mode: str
    state: str  # running | ready | dead | stopped | off | external
    pid: int | None = None
    detail: str = ""  # e.g. "127.0.0.1:5432", the binary or image used
    ports: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "mode": self.mode, "state": self.state,
                "pid": self.pid, "detail": self.detail, "ports": self.ports}


class Runtime:
    name = ""

    def where(self) -> str:
        """Which engine / machine the stack runs on, for status and doctor."""
        return "this machine"

    def public_host(self) -> str:
        """Host the published ports live on (127.0.0.1 unless a remote engine)."""
        return "127.0.0.1"

    def port_holder(self, port: int, protocol: str = "tcp") -> str:
        """Who holds a port the stack wants, in words for the user."""
        from devstack.ports import port_holder

        return port_holder(port, protocol)

    def running_services(self, plan: StackPlan) -> set[str]:
        """Names of services whose processes/containers are up now."""
        raise NotImplementedError

    def recover(self, plan: StackPlan, progress: Progress) -> None:
        """Before `up` plans its ports: stop (or adopt) what an interrupted
        earlier run left running without a record."""

    def up(self, plan: StackPlan, progress: Progress) -> list[str]:
        """Start what is not running and wait until every service is ready.

        Returns the names of services it started (empty: nothing to do). On a
        failure raises ServiceFailed naming the service, with its last log lines,
        after stopping what this call started.
        """
        raise NotImplementedError

    def down(self, plan: StackPlan, volumes: bool, progress: Progress) -> None:
        raise NotImplementedError

    def status(self, plan: StackPlan) -> list[ServiceState]:
        raise NotImplementedError

    def logs(self, plan: StackPlan, service: str, follow: bool, lines: int) -> None:
        raise NotImplementedError

    def tail(self, plan: StackPlan, service: str, lines: int) -> list[str]:
        """A service's last log lines since its last start (empty when there are none)."""
        return []
