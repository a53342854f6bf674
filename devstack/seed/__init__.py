"""Seeding: fixtures into every service (filled in by the seeding work)."""

from __future__ import annotations


def seed_stack(plan, progress, services=None, reset=False, first_start_only=False) -> None:
    """Load fixtures; placeholder until loaders exist."""
