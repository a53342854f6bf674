"""Plan: ports, generated secrets stable across runs, several instances of a kind."""

from __future__ import annotations

import json
import socket
import stat
import textwrap

import pytest

from devstack import manifest, plan
from devstack.errors import ManifestError


def build(tmp_path, text, **kwargs):
    path = tmp_path / "devstack.yaml"
    path.write_text(textwrap.dedent(text))
    return plan.build(manifest.load(path), **kwargs)


TWO_OF_A_KIND = """\
    project: shop
    services:
      db: {kind: postgres}
      analytics_db: {kind: postgres, database: analytics}
      cache: {kind: redis}
      queue: {kind: redis, db: 2}
    """


def test_two_instances_of_a_kind_get_their_own_ports_credentials_and_names(tmp_path):
    p = build(tmp_path, TWO_OF_A_KIND)
    db, other = p.services["db"], p.services["analytics_db"]
    assert db.ports["port"] != other.ports["port"]
    assert db.options["password"] != other.options["password"]
    assert other.outputs["database"] == "analytics" and db.outputs["database"] == "shop"
    # The first (or the one named like its kind) gets the plain names; the other is prefixed.
    assert p.env["DATABASE_URL"] == db.outputs["url"]
    assert p.env["ANALYTICS_DB_DATABASE_URL"] == other.outputs["url"]
    assert p.env["REDIS_URL"].endswith("/0") and p.env["QUEUE_REDIS_URL"].endswith("/2")


def test_secrets_and_ports_are_stable_across_runs(tmp_path):
    text = textwrap.dedent(TWO_OF_A_KIND) + "secrets:\n  jwt: hex:16\n  signing: ed25519\n"
    first = build(tmp_path, text)
    second = build(tmp_path, text)
    assert first.env == second.env
    assert len(first.secrets["jwt"]) == 32
    assert first.secrets["signing"]["private_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    secrets_file = tmp_path / ".devstack" / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert json.loads(secrets_file.read_text())["secrets"]["jwt"] == first.secrets["jwt"]


def test_well_known_port_first_then_a_free_one(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        p = build(tmp_path, f"services:\n  a: {{kind: redis}}\n  b: {{kind: redis, port: {taken}}}\n")
        assert p.services["b"].ports["port"] == taken  # explicit ports are used as given
    assert p.services["a"].ports["port"] != taken


def test_kept_port_is_replaced_only_when_rechecked_and_busy(tmp_path):
    text = "services:\n  cache: {kind: redis}\n"
    first = build(tmp_path, text).services["cache"].ports["port"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        assert build(tmp_path, text).services["cache"].ports["port"] == first
        moved = build(tmp_path, text, recheck_ports={"cache"}).services["cache"].ports["port"]
    assert moved != first


def test_two_projects_never_share_a_port(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    text = "services:\n  db: {kind: postgres}\n  cache: {kind: redis}\n"
    a, b = build(one, text), build(two, text)
    ports_a = {p for s in a.services.values() for p in s.ports.values()}
    ports_b = {p for s in b.services.values() for p in s.ports.values()}
    assert not ports_a & ports_b


def test_relay_range_is_allocated_as_a_block(tmp_path):
    p = build(tmp_path, "services:\n  turn: {kind: coturn}\n")
    out = p.services["turn"].outputs
    assert out["relay_max"] - out["relay_min"] == 15
    assert out["relay_max"] < 32768


def test_modes_off_and_external(tmp_path):
    p = build(tmp_path, """\
        services:
          analytics: {kind: posthog, mode: off}
          db: {kind: postgres, mode: external, url: "postgresql://u:p%40ss@db.example:6543/app"}
        env:
          ANALYTICS_ENABLED: "{{ analytics.enabled }}"
          POSTHOG_API_KEY: "{{ analytics.api_key }}"
          HOST: "{{ db.host }}:{{ db.port }}"
        """)
    assert p.env["ANALYTICS_ENABLED"] == "false"
    assert p.env["POSTHOG_API_KEY"] == ""
    assert p.env["HOST"] == "db.example:6543"
    assert p.services["db"].outputs["password"] == "p@ss"
    assert p.services["db"].ports == {}


def test_expression_errors_name_the_line_and_suggest(tmp_path):
    with pytest.raises(ManifestError) as info:
        build(tmp_path, """\
            services:
              db: {kind: postgres}
            env:
              A: "{{ db.urll }}"
              B: "{{ dbb.url }}"
              C: "{{ secrets.jwt }}"
              D: "{{ db.url "
            """)
    found = {p.path: p for p in info.value.problems}
    assert found["env.A"].line == 4 and "did you mean `url`" in found["env.A"].hint
    assert "did you mean `db`" in found["env.B"].hint
    assert "no secret `jwt`" in found["env.C"].message
    assert "invalid expression" in found["env.D"].message


def test_generated_credentials_avoid_characters_entrypoints_eval(tmp_path):
    p = build(tmp_path, "services:\n  turn: {kind: coturn}\n  sfu: {kind: livekit}\n  stripe: {}\n")
    assert p.services["turn"].options["secret"].isalnum()
    assert len(p.services["sfu"].options["api_secret"]) >= 32
    assert p.services["stripe"].options["secret_key"].count("_") == 2
