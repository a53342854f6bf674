"""Runtimes: docker (python-on-whales) and native (local processes), chosen per run."""

from __future__ import annotations

from devstack.errors import UserError


def select(requested: str, app=None):
    """auto -> docker when an engine answers, else native."""
    if requested == "native":
        from devstack.runtime.native import NativeRuntime

        return NativeRuntime()
    if requested == "docker" or (requested == "auto" and docker_available(app)):
        from devstack.runtime.docker import DockerRuntime

        return DockerRuntime(context=getattr(app, "context", None))
    if requested == "auto":
        from devstack.runtime.native import NativeRuntime

        return NativeRuntime()
    raise UserError(f"unknown runtime {requested!r}", "use auto, docker or native")


def docker_available(app=None) -> bool:
    from devstack.runtime.engine import engine_answers

    return engine_answers(getattr(app, "context", None))
