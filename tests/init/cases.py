"""The init fixtures (fixtures/init/<app>/) and their expected mapping files."""

from __future__ import annotations

from pathlib import Path

import yaml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "init"
SEEDS = ["railgun", "drone-school", "between-sessions"]  # the three dependency documents, in our words
APPS = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.yaml").is_file())


def expected(name: str) -> dict:
    data = yaml.safe_load((FIXTURES / name / "expected.yaml").read_text())
    # YAML 1.1 reads a bare `off` as false
    data["variables"] = {k: ("off" if v is False else v) for k, v in data["variables"].items()}
    data["services"] = {k: str(v).replace("/False", "/off") for k, v in data["services"].items()}
    return data


def chosen(result) -> dict[str, str]:
    """Variable -> label of the decision that counts (a dropped duplicate comes after it)."""
    labels: dict[str, str] = {}
    for d in result.decisions:
        labels.setdefault(d.var.name, d.label)
    return labels
