"""The CLI as a user meets it: exit codes, one clear error, no traceback."""

from __future__ import annotations


def test_three_mistakes_exit_2_naming_each_line(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text(
        "services:\n"
        "  db:\n"
        "    kind: postgress\n"      # unknown kind
        "  cache:\n"
        "    kind: redis\n"
        "    pasword: secret\n"      # misspelled option
        "  s3:\n"
        "    kind: minio\n"
        "    buckets: avatars\n"     # wrong type
    )
    result = cli("render", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "devstack.yaml:3: services.db.kind: unknown kind `postgress`" in result.stderr
    assert "devstack.yaml:6: services.cache.pasword: unknown key `pasword` (did you mean `password`?)" in result.stderr
    assert "devstack.yaml:9: services.s3.buckets: expected a list" in result.stderr
    assert result.stdout == ""


def test_no_manifest_is_one_line_with_a_hint(tmp_path, cli):
    result = cli("env", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no devstack.yaml in")
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert "fixtures/" not in result.stderr  # a path in this repository means nothing elsewhere
    assert "devstack kinds" in result.stderr and "devstack init" in result.stderr


def test_the_manifest_the_no_manifest_hint_shows_works(tmp_path, cli):
    from devstack.manifest import START_HINT

    example = [line[10:] for line in START_HINT.splitlines() if line.startswith("          ")]
    (tmp_path / "devstack.yaml").write_text("\n".join(example) + "\n")
    cli("render", cwd=tmp_path, check=True)
    assert "DATABASE_URL=postgresql://" in (tmp_path / ".env").read_text()


def test_file_option_and_formats(tmp_path, cli):
    manifest = tmp_path / "elsewhere.yaml"
    manifest.write_text("project: p\nservices:\n  cache: {kind: redis, password: pw, port: 26399}\n")
    assert cli("-f", str(manifest), "env", cwd=tmp_path, check=True).stdout == "REDIS_URL=redis://:pw@127.0.0.1:26399/0\n"
    assert cli("-f", str(manifest), "env", "--format", "shell", check=True).stdout == "export REDIS_URL=redis://:pw@127.0.0.1:26399/0\n"


def test_env_never_writes_secrets_to_stderr(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text("services:\n  cache: {kind: redis, password: hunter2hunter2}\n")
    result = cli("render", cwd=tmp_path, check=True)
    assert "hunter2" not in result.stderr + result.stdout


def test_help_lists_every_command(cli):
    out = cli("--help", check=True).stdout
    for command in ("up", "down", "status", "logs", "seed", "render", "env", "doctor", "kinds"):
        assert f"  {command} " in out


def test_render_on_native_writes_no_compose_file(tmp_path, cli):
    (tmp_path / "devstack.yaml").write_text("runtime: native\nservices:\n  cache: {kind: redis}\n")
    result = cli("render", cwd=tmp_path, check=True)
    assert "compose" not in result.stderr
    assert "wrote .env" in result.stderr
    assert not (tmp_path / ".devstack" / "compose.yaml").exists()
    result = cli("--runtime", "docker", "render", cwd=tmp_path, check=True)
    assert "wrote .devstack/compose.yaml (1 services)" in result.stderr
