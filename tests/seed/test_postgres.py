"""Postgres seeding against a real server: SQL, CSV/TSV COPY, migrate, atomicity, idempotence, reset."""

from __future__ import annotations

import pytest

from devstack.errors import ManifestError
from devstack.seed import SeedError

SCHEMA = """
    CREATE TABLE users (
        id serial PRIMARY KEY,
        email text NOT NULL UNIQUE,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE members (user_id int REFERENCES users(id), team text, PRIMARY KEY (user_id, team));
    -- a comment; with a semicolon
    INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada ''The Countess'' Lovelace');
    CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN upper(t) || '!'; END $$;
"""
USERS_CSV = 'id,email,name\n2,grace@example.com,"Hopper, Grace"\n3,alan@example.com,Alan Turing\n'
MEMBERS_TSV = "user_id\tteam\n1\tcore\n2\tcore\n3\tresearch\n"


def dump(project) -> dict:
    """Every row of every user table, for exact before/after comparisons."""
    with project.pg() as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}


def basic(project, **extra):
    project.file("seed/00_schema.sql", SCHEMA)
    project.file("seed/users.csv", USERS_CSV)
    project.file("seed/teams.tsv", MEMBERS_TSV)
    project.manifest({"db": project.service("postgres", seed=["seed/00_schema.sql", "seed/*.csv", {"file": "seed/teams.tsv", "table": "members"}], **extra)})


def test_sql_csv_tsv_load_with_values(project):
    basic(project)
    out = project.seed()
    assert any("users 2 rows" in m and "members 3 rows" in m for m in out), out
    with project.pg() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 3
        assert conn.execute("SELECT name FROM users WHERE id = 2").fetchone()[0] == "Hopper, Grace"
        assert conn.execute("SELECT name FROM users WHERE id = 1").fetchone()[0] == "Ada 'The Countess' Lovelace"
        assert conn.execute("SELECT count(*) FROM members WHERE team = 'core'").fetchone()[0] == 2
        assert conn.execute("SELECT shout('hi')").fetchone()[0] == "HI!"
        # Explicit ids moved the serial sequence on: the app's next insert does not collide.
        assert conn.execute("INSERT INTO users (email, name) VALUES ('new@example.com', 'New') RETURNING id").fetchone()[0] == 4
        # The snapshot template exists and nobody can connect to it.
        row = conn.execute("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", (project.database + "_seeded",)).fetchone()
        assert row == (True, False)


def test_broken_sql_at_line_n_leaves_database_as_it_was(project):
    basic(project)
    project.seed()
    before = dump(project)
    with project.pg() as conn:  # the app's own writes since the seed must survive a failed seed too
        conn.execute("INSERT INTO users (email, name) VALUES ('app@example.com', 'Written by the app')")
    before = dump(project)
    project.file("seed/00_schema.sql", SCHEMA + """
        INSERT INTO users (id, email, name) VALUES (10, 'x@example.com', 'X');
        INSERT INTO users (id, email, name) VALUES (11, 'y@example.com', 'Y'),
            (12, 'ada@example.com', 'duplicate email');
    """)
    text = (project.root / "seed/00_schema.sql").read_text().splitlines()
    n = next(i for i, line in enumerate(text, 1) if "(11, 'y@example.com'" in line)  # where the failing statement starts
    assert n > 10
    with pytest.raises(SeedError) as err:
        project.seed()
    message = err.value.message
    assert f"seed/00_schema.sql:{n}:" in message, message
    assert "duplicate key" in message
    assert dump(project) == before


def test_syntax_error_line_and_nothing_loaded_on_first_seed(project):
    project.file("seed/a.sql", "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n")
    project.file("seed/b.sql", "INSERT INTO a VALUES (2);\n\n\nINSERT INTO a VALUES (3;\n")
    project.manifest({"db": project.service("postgres", seed=["seed/"])})
    with pytest.raises(SeedError) as err:
        project.seed()
    assert "seed/b.sql:4:" in err.value.message and "syntax error" in err.value.message
    assert dump(project) == {}  # no table a: a.sql's work was rolled back with the rest


def test_copy_error_names_csv_line(project):
    project.file("seed/schema.sql", "CREATE TABLE scores (id int PRIMARY KEY, points int);")
    project.file("seed/scores.csv", "id,points\n1,10\n2,20\n3,lots\n4,40\n")
    project.manifest({"db": project.service("postgres", seed=["seed/schema.sql", "seed/scores.csv"])})
    with pytest.raises(SeedError) as err:
        project.seed()
    assert "seed/scores.csv:4:" in err.value.message and "lots" in err.value.message


def test_seed_twice_is_a_noop_and_says_so(project):
    basic(project)
    project.seed()
    with project.pg() as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('kept@example.com', 'Kept')")
    out = project.seed()
    assert any("unchanged" in m for m in out) and any("nothing to do" in m for m in out), out
    with project.pg() as conn:  # not reloaded: the app's row is still there
        assert conn.execute("SELECT count(*) FROM users WHERE email = 'kept@example.com'").fetchone()[0] == 1


def test_changed_fixture_reloads(project):
    basic(project)
    project.seed()
    project.file("seed/users.csv", USERS_CSV + "4,linus@example.com,Linus\n")
    out = project.seed()
    assert any("fixtures changed" in m for m in out), out
    with project.pg() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 4


def test_reset_restores_exactly_the_seeded_state(project):
    basic(project)
    project.seed()
    seeded = dump(project)
    with project.pg() as conn:
        conn.execute("INSERT INTO users (email, name) VALUES ('junk@example.com', 'Junk')")
        conn.execute("UPDATE users SET name = 'changed' WHERE id = 1")
        conn.execute("DELETE FROM members WHERE team = 'research'")
        conn.execute("CREATE TABLE junk (x int)")
    with project.pg() as app_connection:  # an open app connection does not block the reset
        app_connection.execute("SELECT 1")
        out = project.seed(reset=True)
    assert any("reset to the seeded state" in m for m in out), out
    assert dump(project) == seeded
    with project.pg() as conn:  # the clone is an ordinary database again
        assert conn.execute("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", (project.database,)).fetchone() == (False, True)


def test_resets_in_a_row_each_wait_for_the_last_ones_drop_and_leave_nothing(project):
    """A reset drops the database it put aside without waiting; the next reset
    waits for that drop (never two at once, never a name taken), and the server
    logs nothing about the session it left."""
    import time

    basic(project)
    project.seed()
    seeded = dump(project)
    log = project.servers["postgres"].log
    logged = log.stat().st_size
    for _ in range(4):
        with project.pg() as conn:
            conn.execute("DELETE FROM members")
        project.seed(reset=True)
        assert dump(project) == seeded
    deadline = time.monotonic() + 10
    with project.pg("postgres") as conn:
        while (left := [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (project.database + "\\_\\_%",))]) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    assert left == []
    with open(log, "rb") as handle:
        handle.seek(logged)
        assert b"could not send data" not in handle.read()


def test_migrate_runs_first_with_the_app_env(project):
    project.file("seed/data.sql", "INSERT INTO widgets (name) VALUES ('sprocket');")
    migrate = 'psql "$MY_DB_URL" -v ON_ERROR_STOP=1 -qc "CREATE TABLE widgets (id serial PRIMARY KEY, name text)"'
    project.manifest({"db": project.service("postgres", migrate=migrate, seed=["seed/data.sql"])}, env={"MY_DB_URL": "{{ db.url }}"})
    out = project.seed()
    assert any("migrated" in m for m in out), out
    with project.pg() as conn:
        assert conn.execute("SELECT name FROM widgets").fetchall() == [("sprocket",)]
    # The migration command is part of the hash: changing it reloads.
    project.manifest({"db": project.service("postgres", migrate=migrate + " && true", seed=["seed/data.sql"])}, env={"MY_DB_URL": "{{ db.url }}"})
    assert any("fixtures changed" in m for m in project.seed())


def test_failing_migration_leaves_database_as_it_was(project):
    basic(project)
    project.seed()
    before = dump(project)
    project.manifest({"db": project.service("postgres", migrate="echo migrating; exit 3", seed=["seed/00_schema.sql"])})
    with pytest.raises(SeedError) as err:
        project.seed()
    assert "migration command failed (exit 3)" in err.value.message
    assert any("migrating" in m for m in project.messages)
    assert dump(project) == before


def test_pg_dump_style_file_with_copy_block_and_transaction(project):
    project.file("seed/dump.sql", """
        SET statement_timeout = 0;
        SELECT pg_catalog.set_config('search_path', '', false);
        BEGIN;
        CREATE TABLE public.tags (id integer NOT NULL, label text);
        COPY public.tags (id, label) FROM stdin;
        1\tred
        2\t\\N
        \\.
        COMMIT;
    """)
    project.file("seed/tags_more.csv", "id,label\n3,blue\n")
    project.manifest({"db": project.service("postgres", seed=["seed/dump.sql", {"file": "seed/tags_more.csv", "table": "tags"}])})
    project.seed()  # search_path '' from the dump must not break the next fixture
    with project.pg() as conn:
        assert conn.execute("SELECT id, label FROM tags ORDER BY id").fetchall() == [(1, "red"), (2, None), (3, "blue")]


def test_manifest_errors_name_key_and_line(project):
    project.file("seed/schema.sql", "SELECT 1;")
    project.manifest({"db": project.service("postgres", seed=["seed/schema.sql", "seed/missing.sql", {"file": "seed/schema.sql", "table": "t"}, {"fil": "x"}])})
    with pytest.raises(ManifestError) as err:
        project.seed()
    text = err.value.render()
    lines = (project.root / "devstack.yaml").read_text().splitlines()
    missing_line = next(i for i, text_line in enumerate(lines, 1) if "missing.sql" in text_line)
    assert f"devstack.yaml:{missing_line}: services.db.seed.1: fixture not found: seed/missing.sql" in text, text
    assert "services.db.seed.2.table: `table:` goes with a .csv or .tsv file" in text
    assert "unknown key `fil`" in text and "did you mean `file`?" in text


def test_copy_block_and_tsv_errors_name_the_file_line(project):
    project.file("seed/dump.sql", "CREATE TABLE n (id int);\nCOPY n (id) FROM stdin;\n1\nzwei\n\\.\n")
    project.manifest({"db": project.service("postgres", seed=["seed/dump.sql"])})
    with pytest.raises(SeedError, match=r"seed/dump.sql:4: invalid input syntax for type integer: \"zwei\""):
        project.seed()
    project.file("seed/dump.sql", "CREATE TABLE n (id int);\n")
    project.file("seed/n.tsv", "id\n1\n2\nthree\n")
    project.manifest({"db": project.service("postgres", seed=["seed/dump.sql", "seed/n.tsv"])})
    with pytest.raises(SeedError, match=r"seed/n.tsv:4: invalid input syntax"):
        project.seed()


def test_kind_without_seeder_and_bad_shapes_are_manifest_errors(project):
    project.manifest({"db": project.service("postgres", seed=42), "mail": {"kind": "mailpit", "seed": ["x.eml"]}})
    with pytest.raises(ManifestError) as err:
        project.seed()
    text = err.value.render()
    assert "services.db.seed: expected a list of fixture files, got int" in text
    assert "services.mail.seed: kind mailpit takes no seed fixtures" in text


def test_first_start_after_data_loss_reseeds(project):
    basic(project)
    project.seed(first_start_only=True)
    with project.pg("postgres") as admin:  # as after `down --volumes`: the seeded databases are gone
        admin.execute(f'ALTER DATABASE "{project.database}_seeded" WITH IS_TEMPLATE false')
        admin.execute(f'DROP DATABASE "{project.database}_seeded"')
        admin.execute(f'DROP DATABASE "{project.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{project.database}"')
    out = project.seed(first_start_only=True)
    assert any("gone from the server" in m for m in out), out
    with project.pg() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 3
