"""The catalog: every kind found through `devstack.kinds`, declared completely."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from devstack.errors import UserError
from devstack.services import catalog
from devstack.services.base import COMMON_OUTPUTS, Kind, Option, Port

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_declares_devstacks_own_kinds_as_the_fast_path_knows_them():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][catalog.GROUP]
    assert declared == catalog.BUILTIN


def test_every_kind_loads_and_names_itself():
    for name, kind in catalog.kinds().items():
        assert kind.name == name and kind.summary and catalog.origin(name) == "devstack"


def test_options_are_complete_when_the_class_is_defined():
    class Thing(Kind):
        name = "thing"
        options = {"size": Option(int, 1, "how big")}
        ports = {"port": Port(80), "admin_port": Port(81)}

    assert list(Thing().all_options()) == ["size", "port", "admin_port"]
    assert Thing().all_options()["admin_port"].type is int
    assert Thing.template == (__name__, "thing.yaml.j2")  # beside its module
    assert catalog.get("postgres").template == ("devstack.compose_templates", "postgres.yaml.j2")
    assert catalog.get("flags").template is None  # stand-in only: no Docker side


def test_an_option_named_like_a_port_is_refused_at_definition():
    with pytest.raises(TypeError, match="both an option and a port"):
        class Bad(Kind):
            name = "bad"
            options = {"port": Option(int)}
            ports = {"port": Port(80)}


def test_a_broken_plugin_entry_is_one_clear_error():
    broken = catalog.Entry("nope", "tests.unit.no_such_module:Nope", "devstack-nope")
    with pytest.raises(UserError) as info:
        catalog._load(broken)
    assert "nope (from devstack-nope) cannot be loaded: ModuleNotFoundError" in info.value.message
    assert "pip uninstall devstack-nope" in info.value.hint
    wrong = catalog.Entry("redis2", "devstack.services.redis:Redis", "devstack-x")
    with pytest.raises(UserError, match="is kind `redis`, registered as `redis2`"):
        catalog._load(wrong)


def every_kind_manifest(tmp_path: Path) -> Path:
    """One service of every kind, in the mode that runs the most of it."""
    lines = ["project: every", "services:"]
    for name, kind in catalog.kinds().items():
        mode = "run" if "run" in kind.modes else "stub"
        extra = ", inbox: mailpit" if name == "email_api" else ""
        lines.append(f"  {name}: {{kind: {name}, mode: {mode}{extra}}}")
    (tmp_path / "devstack.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path / "devstack.yaml"


def test_each_kind_declares_exactly_the_outputs_it_returns(tmp_path):
    from devstack import manifest, plan

    stack = plan.build(manifest.load(every_kind_manifest(tmp_path)))
    for svc in stack.services.values():
        declared = svc.kind.output_help
        assert set(svc.kind.outputs(svc, stack)) == set(declared), f"{svc.kind.name}: outputs() and output_help differ"
        assert set(svc.outputs) == set(declared) | set(COMMON_OUTPUTS)  # what `{{ }}` can use
        assert all(isinstance(text, str) and text and "\n" not in text for text in declared.values()), svc.kind.name


def test_each_kind_documents_its_options_and_what_runs():
    for name, kind in catalog.kinds().items():
        assert all(option.help for option in kind.all_options().values()), name
        if "run" in kind.modes:
            assert kind.docker and (kind.native_binary or kind.standin), name
        else:
            assert kind.standin and kind.standin_lacks, name
        assert bool(kind.standin) == bool(kind.standin_lacks), name


def test_entry_points_devstacks_own_are_skipped_and_clashes_ignored(monkeypatch):
    import importlib.metadata
    from types import SimpleNamespace

    def dist(name, version="1.0"):
        return SimpleNamespace(metadata={"Name": name}, version=version)

    old_devstack, plugin_a, plugin_b = dist("devstack", "0.0.1"), dist("kinds-a"), dist("kinds-b", "2.0")
    points = [
        SimpleNamespace(name="postgres", value="devstack.services.postgres:Postgres", dist=old_devstack),  # devstack's own
        SimpleNamespace(name="gone", value="devstack.services.gone:Gone", dist=old_devstack),  # an older devstack's
        SimpleNamespace(name="redis", value="kinds_a:Redis", dist=plugin_a),  # devstack's name: ignored
        SimpleNamespace(name="queue", value="kinds_a:Queue", dist=plugin_a),
        SimpleNamespace(name="queue", value="kinds_b:Queue", dist=plugin_b),  # taken by kinds-a: ignored
        SimpleNamespace(name="search", value="kinds_b:Search", dist=plugin_b),
    ]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: points if group == catalog.GROUP else [])
    catalog._plugins.cache_clear()
    try:
        assert catalog.names()[-2:] == ["queue", "search"] and "gone" not in catalog.names()
        assert catalog.entry("search") == catalog.Entry("search", "kinds_b:Search", "kinds-b", "2.0")
        assert catalog.origin("queue") == "kinds-a" and catalog.origin("redis") == "devstack"
        assert [(i.entry.name, i.entry.origin) for i in catalog.ignored()] == [("redis", "kinds-a"), ("queue", "kinds-b")]
        assert "redis" not in [e.name for e in catalog.entries()[len(catalog.BUILTIN):]]
    finally:
        catalog._plugins.cache_clear()
