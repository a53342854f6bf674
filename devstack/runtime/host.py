"""The native runtime's side of services.spec.Host: what a kind may ask while it
builds its NativeSpec (where a program is, who runs a server that refuses root,
where that user's data lives). It only looks; runtime/process.py makes things."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from devstack.runtime import binaries, process
from devstack.services.spec import DataDir, Host, Wanted


def project_key(stack) -> str:
    """Stable, unique name of a project for paths outside it."""
    digest = hashlib.sha256(str(stack.root).encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '-', stack.project)[:40]}-{digest}"


class NativeHost(Host):
    def find(self, wanted: Wanted, configured: str | None = None, required: bool = True, stub_ok: bool = False) -> str | None:
        return binaries.find(wanted, configured, required=required, stub_ok=stub_ok)

    def find_dir(self, wanted: Wanted, configured: str | None = None, prefer_version: str | None = None) -> Path:
        return binaries.find_dir(wanted, configured, prefer_version=prefer_version)

    def run_as(self, preferred: str) -> str | None:
        return process.unprivileged_user(preferred) if process.is_root() else None

    def data_dir(self, svc, stack, user: str | None) -> DataDir:
        return process.data_dir(svc.state_dir, project_key(stack), svc.name, user)

    def cache_dir(self, user: str | None) -> Path:
        return process.shared_cache_dir(user)


HOST = NativeHost()


def native_spec(svc, stack):
    """The kind's NativeSpec for this service, built against this machine."""
    return svc.kind.native(svc, stack, HOST)
