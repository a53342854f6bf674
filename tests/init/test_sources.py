"""Reading the inputs: dotenv lines (commented ones too), markdown blocks, tables and prose, compose files."""

from __future__ import annotations

from devstack.init import composefile, dotenv, markdown, sources


def test_dotenv_keeps_comment_blocks_commented_lines_and_line_numbers():
    text = ("# Database\n# use Postgres 15\nDATABASE_URL=\"postgresql://u:p@localhost/app\"  # main one\n"
            "# DATABASE_URL=mysql://root@localhost/app\n\nexport REDIS_URL='redis://localhost'\nEMPTY=\n")
    found = {(v.name, v.commented): v for v in dotenv.parse(text, ".env.example").variables}
    db = found[("DATABASE_URL", False)]
    assert (db.value, db.line, db.section) == ("postgresql://u:p@localhost/app", 3, "Database")
    assert "use Postgres 15" in db.context and "main one" in db.context
    mysql = found[("DATABASE_URL", True)]
    assert (mysql.value, mysql.line) == ("mysql://root@localhost/app", 4)
    redis = found[("REDIS_URL", False)]
    assert (redis.value, redis.line, redis.context) == ("redis://localhost", 6, "")  # the blank line ended the block
    assert found[("EMPTY", False)].value == ""


def test_markdown_reads_env_blocks_backticks_examples_and_docker_run():
    text = """# Setup

## 1. Database

- **Env Vars**: `DATABASE_URL`, optional `PGSSLMODE` (set to `require` for managed hosts).
- `ALLOWED_ORIGINS=https://app.example`

```env
REDIS_URL=redis://localhost:6379  # cache
```

**Local Development:**

```bash
docker run -d -e POSTGRES_DB=shop \\
  -p 5432:5432 postgres:16
```

| Area | Service | Can Run Locally? |
|------|---------|------------------|
| Voice | Coturn | ❌ Skip in dev |
"""
    found = markdown.parse(text, "SETUP.md")
    values = {v.name: v.value for v in found.variables}
    assert values == {"DATABASE_URL": "", "PGSSLMODE": "require", "ALLOWED_ORIGINS": "https://app.example", "REDIS_URL": "redis://localhost:6379"}
    assert {v.name: v.section for v in found.variables}["REDIS_URL"] == "1. Database"
    (hint,) = found.hints
    assert (hint.kind, hint.version, hint.env) == ("postgres", "16", {"POSTGRES_DB": "shop"})
    assert [(c.kind, c.text) for c in found.cues if c.kind == "coturn"] == [("coturn", "❌ Skip in dev")]


def test_markdown_backticked_acronyms_are_not_variables():
    found = markdown.parse("Use `JSON` over `HTTPS`, see `README.md` and `npx prisma migrate deploy`.", "a.md")
    assert found.variables == []


def test_compose_images_are_hints_and_the_apps_own_environment_is_variables():
    text = """services:
  db:
    image: postgres:15-alpine
    environment: {POSTGRES_DB: shop}
  cache:
    image: valkey/valkey:8
  mail:
    image: axllent/mailpit
  api:
    build: .
    environment:
      - DATABASE_URL=postgres://postgres@db/shop
      - SECRET=${APP_SECRET}
"""
    found = composefile.parse(text, "compose.yaml")
    assert [(h.kind, h.version) for h in found.hints] == [("postgres", "15"), ("redis", "8"), ("mailpit", None)]
    assert {v.name: v.value for v in found.variables} == {"DATABASE_URL": "postgres://postgres@db/shop", "SECRET": ""}
    assert all(v.line > 0 for v in found.variables)


def test_discovery_looks_in_the_root_one_level_down_and_monorepo_apps(tmp_path):
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / ".env.example").write_text("DATABASE_URL=\n")
    (tmp_path / "apps" / "web").mkdir(parents=True)
    (tmp_path / "apps" / "web" / ".env.local.example").write_text("NEXT_PUBLIC_URL=\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / ".env.example").write_text("NOPE=\n")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "README.md").write_text("# hi\n")
    found = [p.relative_to(tmp_path).as_posix() for p in sources.discover(tmp_path)]
    assert found == ["apps/web/.env.local.example", "backend/.env.example", "docker-compose.yml"]


def test_the_readme_is_read_only_when_nothing_else_is_there(tmp_path):
    (tmp_path / "README.md").write_text("Set `DATABASE_URL`.\n")
    assert [p.name for p in sources.discover(tmp_path)] == ["README.md"]


def test_file_kind_by_name_then_by_content():
    assert sources.kind_of(".env.production.sample", "") == "dotenv"
    assert sources.kind_of("compose.yaml", "") == "compose"
    assert sources.kind_of("000_deps.txt", "") == "markdown"
    assert sources.kind_of("settings", "A=1\nB=2\n# c\n") == "dotenv"
    assert sources.kind_of("settings", "services:\n  db: {}\n") == "compose"
