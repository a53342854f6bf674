"""The registry of service kinds: name -> Kind instance."""

from __future__ import annotations

from functools import cache

from devstack.services.base import Kind


@cache
def kinds() -> dict[str, Kind]:
    from devstack.services import coturn, livekit, mailpit, minio, postgres, redis, stripe, stubkinds

    found = [postgres.Postgres(), redis.Redis(), minio.Minio(), mailpit.Mailpit(), stripe.Stripe(), coturn.Coturn(), livekit.Livekit()]
    found += [cls() for cls in stubkinds.KINDS]
    return {k.name: k for k in found}


def get(name) -> Kind | None:
    return kinds().get(name) if isinstance(name, str) else None


def names() -> list[str]:
    return list(kinds())
