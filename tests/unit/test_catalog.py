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
