"""`devstack seed` and the `devstack up` path (first_start_only), on the real servers."""

from __future__ import annotations

import pytest

from devstack.cli.main import main


class FakeRuntime:
    name = "fake"

    def __init__(self, running):
        self.running = running

    def public_host(self):
        return "127.0.0.1"

    def running_services(self, plan):
        return set(plan.services) if self.running is None else self.running


@pytest.fixture
def runtime(monkeypatch):
    fake = FakeRuntime(None)
    monkeypatch.setattr("devstack.runtime.select", lambda requested, app=None: fake)
    return fake


def run(project, capsys, *args) -> tuple[int, str]:
    code = 0
    try:
        main(["-f", str(project.root / "devstack.yaml"), "seed", *args])
    except SystemExit as exc:
        code = exc.code or 0
    return code, capsys.readouterr().err


def setup(project):
    project.file("seed/schema.sql", "CREATE TABLE t (id int PRIMARY KEY, v text);")
    project.file("seed/t.csv", "id,v\n1,a\n2,b\n")
    project.file("seed/cache.yaml", "k: v\n")
    project.manifest({"db": project.service("postgres", seed=["seed/schema.sql", "seed/t.csv"]),
                      "cache": project.service("redis", seed=["seed/cache.yaml"])})


def test_cli_seed_noop_reset_and_service_selection(project, runtime, capsys):
    setup(project)
    code, err = run(project, capsys)
    assert code == 0 and "seed db: schema.sql (1 statement), t 2 rows" in err and "seed cache: 1 keys" in err, err
    code, err = run(project, capsys)
    assert code == 0 and "nothing to do: fixtures unchanged since the last seed" in err, err
    with project.pg() as conn:
        conn.execute("DELETE FROM t")
    project.redis().set("junk", "1")
    code, err = run(project, capsys, "--reset", "db")
    assert code == 0 and "seed db: reset to the seeded state" in err and "cache" not in err, err
    with project.pg() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert project.redis().get("junk") == b"1"  # only db was reset


def test_cli_errors(project, runtime, capsys):
    setup(project)
    code, err = run(project, capsys, "nope")
    assert code == 2 and "error: no service `nope`" in err
    runtime.running = {"cache"}
    code, err = run(project, capsys)
    assert code == 2 and "not running: db" in err and "devstack up" in err
    runtime.running = None
    project.file("seed/schema.sql", "CREATE TABLE t (id int PRIMARY KEY, v text);\nSELEC 1;\n")
    code, err = run(project, capsys, "db")
    assert code == 1 and "error: db: seed/schema.sql:2: syntax error" in err and "hint:" in err, err


def test_up_seeds_first_start_only(project):
    setup(project)
    out = project.seed(first_start_only=True)
    assert any("t 2 rows" in m for m in out)
    project.file("seed/t.csv", "id,v\n1,a\n2,b\n3,c\n")
    out = project.seed(first_start_only=True)
    assert out == ["seed db: fixtures changed since the last seed: `devstack seed db` reloads them"], out
    with project.pg() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
