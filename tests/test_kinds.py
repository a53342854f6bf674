"""`devstack kinds`: the reference of every kind, read off the catalog; docs/kinds.md is its Markdown."""

from __future__ import annotations

from pathlib import Path

from devstack.services import catalog, reference

ROOT = Path(__file__).resolve().parents[1]


def test_the_list_names_every_kind_with_modes_and_origin(tmp_path, cli):
    out = cli("kinds", cwd=tmp_path, check=True).stdout  # no manifest needed
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for name, kind in catalog.kinds().items():
        assert name in lines, name
        assert ", ".join(kind.modes) in lines[name] and " devstack " in lines[name] and kind.summary in lines[name]


def test_one_kind_shows_options_outputs_env_and_what_runs(tmp_path, cli):
    out = cli("kinds", "postgres", cwd=tmp_path, check=True).stdout
    for text in ("from: devstack", "modes: run, off, external (default: run)",
                 "version    str | int  default: 15", "password   str        default: generated (password)",
                 "port       int        default: allocated",
                 "base_url", "password (secret)", "enabled", "DATABASE_URL  {{ url }}",
                 "docker: postgres:<version>", "native: the host's initdb + postgres"):
        assert text in out, text
    minio = cli("kinds", "minio", check=True).stdout
    assert "stand-in lacks: versioning" in minio and "(one of: standin, moto)" in minio


def test_every_kind_can_be_shown(cli):
    out = cli("kinds", *catalog.names(), check=True).stdout
    for name, kind in catalog.kinds().items():
        assert f"{name}: {kind.summary}" in out
        for output in kind.output_help:
            assert f"  {output}" in out


def test_an_unknown_kind_is_one_error_with_a_suggestion(cli):
    result = cli("kinds", "redsi")
    assert result.returncode == 2 and "error: unknown kind `redsi`" in result.stderr
    assert "did you mean `redis`?" in result.stderr and "Traceback" not in result.stderr


def test_docs_kinds_md_is_the_catalog_as_it_is():
    current = (ROOT / "docs" / "kinds.md").read_text()
    assert current == reference.builtin_markdown(), \
        "docs/kinds.md is stale: python -m devstack.services.reference > docs/kinds.md"


def test_markdown_from_the_cli_covers_the_named_kinds(cli):
    out = cli("kinds", "--markdown", "redis", check=True).stdout
    assert "## redis" in out and "| `REDIS_URL` | `{{ url }}` |" in out and "## postgres" not in out


def test_a_plugin_that_fails_to_load_is_listed_with_why(monkeypatch):
    broken = catalog.Entry("wobbly", "no_such_plugin_module:Wobbly", "devstack-wobbly", "0.2")
    monkeypatch.setattr(catalog, "_plugins", lambda: ({"wobbly": broken}, ()))
    out = reference.listing()
    line = next(line for line in out.splitlines() if line.startswith("wobbly "))
    assert "devstack-wobbly 0.2" in line and "ModuleNotFoundError" in line
    assert any(line.startswith("postgres ") for line in out.splitlines())
