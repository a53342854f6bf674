"""`devstack init` as a user meets it: what it writes, what it refuses, what it says."""

from __future__ import annotations

import json
import os
import stat

import yaml

from devstack import manifest

ENV = "DATABASE_URL=postgresql://u:p@localhost:5432/shop\n# GITHUB_CLIENT_SECRET=\nJWT_SECRET=changeme\nPORT=3000\n"


def test_writes_a_manifest_its_loader_accepts_with_a_comment_per_choice(tmp_path, cli):
    (tmp_path / ".env.example").write_text(ENV)
    result = cli("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote devstack.yaml" in result.stderr and "next: devstack up" in result.stderr
    path = tmp_path / "devstack.yaml"
    loaded = manifest.load(path)
    assert loaded.services["db"].kind == "postgres" and loaded.services["db"].options["database"] == "shop"
    assert loaded.env == {"DATABASE_URL": "{{ db.url }}", "JWT_SECRET": "{{ secrets.jwt_secret }}", "PORT": "3000"}
    assert loaded.secrets["jwt_secret"].type == "hex"
    text = path.read_text()
    for var in ("DATABASE_URL", "JWT_SECRET", "PORT"):
        before = text.splitlines()[text.splitlines().index(f'  {var}: {json.dumps(loaded.env[var])}') - 1]
        assert before.lstrip().startswith("#"), f"no comment above {var}"
    assert "GITHUB_CLIENT_SECRET (.env.example:2): commented out" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env.example", "devstack.yaml"]  # no temp file left
    # the table: variable -> decision, with the reason
    assert "DATABASE_URL" in result.stdout and "db.url" in result.stdout and "secret" in result.stdout
    assert cli("render", cwd=tmp_path).returncode == 0


def test_never_overwrites_without_force(tmp_path, cli):
    (tmp_path / ".env.example").write_text(ENV)
    (tmp_path / "devstack.yaml").write_text("# mine\n")
    result = cli("init", cwd=tmp_path)
    assert result.returncode == 2 and "devstack.yaml already exists" in result.stderr and "--force" in result.stderr
    assert (tmp_path / "devstack.yaml").read_text() == "# mine\n"
    assert cli("init", "--force", cwd=tmp_path).returncode == 0
    assert "services:" in (tmp_path / "devstack.yaml").read_text()


def test_dry_run_writes_nothing_and_shows_the_manifest(tmp_path, cli):
    (tmp_path / ".env.example").write_text(ENV)
    result = cli("init", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0 and not (tmp_path / "devstack.yaml").exists()
    shown = result.stdout.split("--- devstack.yaml (not written: --dry-run) ---\n", 1)[1]
    assert yaml.safe_load(shown)["env"]["DATABASE_URL"] == "{{ db.url }}"


def test_json_gives_the_decisions_as_data(tmp_path, cli):
    (tmp_path / ".env.example").write_text(ENV)
    data = json.loads(cli("init", "--json", cwd=tmp_path, check=True).stdout)
    assert data["written"] is True and data["inputs"] == [".env.example"]
    assert [(s["name"], s["kind"], s["mode"]) for s in data["services"]] == [("db", "postgres", "run")]
    by_name = {v["name"]: v for v in data["variables"]}
    assert (by_name["DATABASE_URL"]["decision"], by_name["DATABASE_URL"]["line"]) == ("postgres.url", 1)
    assert by_name["JWT_SECRET"]["category"] == "secret" and by_name["PORT"]["category"] == "config"
    assert by_name["GITHUB_CLIENT_SECRET"]["commented"] is True and by_name["GITHUB_CLIENT_SECRET"]["written"] is False
    assert all(v["why"] for v in data["variables"])


def test_from_reads_the_named_files_and_dash_f_names_the_output(tmp_path, cli):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "deps.txt").write_text("## Cache\n\n```env\nREDIS_URL=redis://localhost:6379\n```\n")
    out = tmp_path / "ops" / "devstack.yaml"
    result = cli("-f", str(out), "init", "--from", "docs/deps.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert manifest.load(out).services["redis"].kind == "redis"


def test_works_outside_any_checkout_even_under_a_broken_manifest(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text("services: [not, a, mapping\n")  # a parent's manifest init must not load
    app = tmp_path / "app"
    app.mkdir()
    (app / ".env.example").write_text(ENV)
    result = cli("init", cwd=app)
    assert result.returncode == 0, result.stderr
    assert manifest.load(app / "devstack.yaml").project == "app"


def test_no_input_is_one_error_with_a_hint(tmp_path, cli):
    result = cli("init", cwd=tmp_path)
    assert result.returncode == 2 and "found no .env.example" in result.stderr and "--from" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli("init", "--from", "nope.env", cwd=tmp_path)
    assert result.returncode == 2 and "no such file: nope.env" in result.stderr


def test_unrecognizable_inputs_get_a_message_and_a_minimal_valid_manifest(tmp_path, cli):
    cases = {
        "notes.txt": "We deploy on Fridays. Nobody knows why.\n",
        "blob.bin": bytes(range(256)) * 8,
        ".env.example": "NODE_ENV=development\nPORT=3000\n",
        "compose.yaml": "services: [this is: not valid\n",
    }
    for name, content in cases.items():
        project = tmp_path / name.strip(".").replace(".", "-")
        project.mkdir()
        (project / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        result = cli("init", "--from", name, cwd=project)
        assert result.returncode == 0, (name, result.stderr)
        assert "Traceback" not in result.stderr
        assert f"nothing in {name} names a service devstack runs" in result.stderr, (name, result.stderr)
        loaded = manifest.load(project / "devstack.yaml")
        assert [(s.kind, s.mode) for s in loaded.services.values()] == [("postgres", "off")]
        assert cli("render", cwd=project).returncode == 0
    env = (tmp_path / "env-example" / ".env").read_text()
    assert "PORT=3000" in env and "NODE_ENV=development" in env


def test_init_is_registered_with_the_other_commands(cli):
    result = cli("--help")
    assert "init" in result.stdout and "Write devstack.yaml" in result.stdout
    assert os.environ.get("DEVSTACK_HOME")  # each test has its own (tests/conftest.py)


def test_from_a_folder_reads_the_usual_files_in_it(tmp_path, cli):
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / ".env.example").write_text("REDIS_URL=redis://localhost:6379\n")
    result = cli("init", "--from", "backend", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inputs"] == ["backend/.env.example"] and data["env_file"] == "backend/.env"


def test_a_folder_with_nothing_to_read_is_one_error(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    result = cli("init", "--from", "empty", cwd=tmp_path)
    assert result.returncode == 2 and "found no .env.example, compose file or dependency document in empty" in result.stderr
    assert not (tmp_path / "devstack.yaml").exists()


def test_an_unwritable_folder_is_one_error(tmp_path, cli):
    (tmp_path / ".env.example").write_text(ENV)
    result = cli("-f", "/proc/devstack.yaml", "init", "--from", ".env.example", cwd=tmp_path)
    assert result.returncode == 2 and "cannot write /proc/devstack.yaml" in result.stderr and "Traceback" not in result.stderr
