"""Postgres fixtures: migration command, .sql files, .csv/.tsv through COPY.

A seed builds the database afresh: the old one is renamed aside, a new one is
created, the migration command runs with the app's env, then every fixture
loads in ONE transaction. On any error the new database is dropped and the old
one renamed back, so the database is exactly as it was. After a seed the
database is copied into a template `<db>_seeded`; `--reset` drops the app's
database and clones it back from that template.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import time
from pathlib import Path

from devstack.seed.base import Fixture, SeedError, Seeder, short_error
from devstack.seed.specs import PostgresSpec

MAX_IDENT = 63
CHUNK = 1 << 20


def aux_name(db: str, suffix: str) -> str:
    """`<db><suffix>`, shortened with a hash when over Postgres' 63-byte names."""
    name = db + suffix
    if len(name.encode()) <= MAX_IDENT:
        return name
    tag = hashlib.sha256(db.encode()).hexdigest()[:8]
    keep = MAX_IDENT - len(suffix) - 9
    return db.encode()[:keep].decode(errors="ignore") + "_" + tag + suffix


def table_for(path: Path) -> str:
    """`users.csv` -> users; `02_users.csv` -> users; `billing.invoices.tsv` -> billing.invoices."""
    stem = path.stem
    return re.sub(r"^\d+[-_.]", "", stem) or stem


def error_text(exc) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc).splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    return short_error(primary + (f" ({detail})" if detail else ""))


class PostgresSeeder(PostgresSpec, Seeder):
    kind = "postgres"

    def extra(self) -> dict:
        return {"migrate": self.svc.options.get("migrate") or "", "database": self.database}

    # -- connections -----------------------------------------------------------
    @property
    def database(self) -> str:
        return str(self.svc.outputs["database"])

    def connect(self, dbname: str, autocommit: bool = False):
        import psycopg

        o = self.svc.outputs
        try:
            return psycopg.connect(host=o["host"], port=o["port"], user=o["user"], password=o["password"], dbname=dbname,
                                   autocommit=autocommit, connect_timeout=10, application_name="devstack-seed")
        except psycopg.OperationalError as exc:
            raise SeedError(f"{self.name}: cannot connect to postgres at {o['host']}:{o['port']} (database {dbname}): {short_error(exc)}",
                            "is the stack up? `devstack up` / `devstack status`", intact=True) from None

    def admin(self):
        return self.connect("postgres", autocommit=True)

    # -- database-level operations (on the maintenance connection) -----------------------
    @staticmethod
    def exists(conn, name: str) -> bool:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    @staticmethod
    def ident(name: str):
        from psycopg import sql

        return sql.Identifier(name)

    def block(self, conn, name: str, allow: bool) -> None:
        """Let nobody (allow=False) or everybody connect to `name`; kicks out current sessions."""
        from psycopg import sql

        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(self.ident(name), sql.SQL("true" if allow else "false")))
        if not allow:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            deadline = time.monotonic() + 5
            while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)

    def drop(self, conn, name: str) -> None:
        from psycopg import sql

        if not self.exists(conn, name):
            return
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(self.ident(name)))
        if conn.info.server_version >= 130000:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(self.ident(name)))
        else:
            self.block(conn, name, False)
            conn.execute(sql.SQL("DROP DATABASE {}").format(self.ident(name)))

    def create(self, conn, name: str, template: str | None = None) -> None:
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {} OWNER {}").format(self.ident(name), self.ident(str(self.svc.outputs["user"])))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(self.ident(template))
            if conn.info.server_version >= 150000:
                # One checkpoint and a file copy: much faster than WAL-logging every block of a big database.
                query += sql.SQL(" STRATEGY FILE_COPY")
        conn.execute(query)

    def rename(self, conn, old: str, new: str) -> None:
        from psycopg import sql

        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(self.ident(old), self.ident(new)))

    # -- seed ---------------------------------------------------------------------
    def load(self, fixtures):
        db = self.database
        prev, template = aux_name(db, "__devstack_prev"), aux_name(db, "_seeded")
        started = time.monotonic()
        with self.admin() as admin:
            sysid = str(admin.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
            if self.exists(admin, prev):  # an earlier seed was interrupted: put the old database back first
                self.drop(admin, db)
                self.rename(admin, prev, db)
                self.block(admin, db, True)
            had = self.exists(admin, db)
            if had:
                self.block(admin, db, False)
                self.rename(admin, db, prev)
            self.create(admin, db)
        try:
            migrate = self.svc.options.get("migrate")
            if migrate:
                self.migrate(migrate)
            counts = self.load_fixtures(db, fixtures) if fixtures else []
            with self.admin() as admin:
                self.drop(admin, template)
                self.block(admin, db, False)
                try:
                    self.create(admin, template, template=db)
                finally:
                    self.block(admin, db, True)
                from psycopg import sql

                admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(self.ident(template)))
        except BaseException:
            with self.admin() as admin:
                self.drop(admin, db)
                if had:
                    self.rename(admin, prev, db)
                    self.block(admin, db, True)
                else:  # there was none: leave the empty database the plan promises the app
                    self.create(admin, db)
            raise
        with self.admin() as admin:
            self.drop(admin, prev)
        summary = ", ".join(counts) if counts else "no fixtures"
        self.say(f"{summary} in {time.monotonic() - started:.2f}s (snapshot {template})")
        return {"sysid": sysid, "database": db, "template": template}

    def migrate(self, command: str) -> None:
        t0 = time.monotonic()
        env = {**os.environ, **{k: str(v) for k, v in self.plan.env.items()}}
        proc = subprocess.run(command, shell=True, cwd=self.plan.root, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
            for line in tail.splitlines():
                self.progress(f"  | {line}")
            raise SeedError(f"{self.name}: migration command failed (exit {proc.returncode}): {command}",
                            "its output is above; the database was left as it was", intact=True)
        self.say(f"migrated ({command}) in {time.monotonic() - t0:.1f}s")

    def load_fixtures(self, db: str, fixtures: list[Fixture]) -> list[str]:
        counts = []
        with self.connect(db) as conn:  # one transaction: commit at the end, rollback on any error
            for fx in fixtures:
                if fx.suffix == ".sql":
                    n = self.run_sql(conn, fx)
                    counts.append(f"{fx.path.name} ({n} statement{'' if n == 1 else 's'})")
                else:
                    rows, table = self.copy_file(conn, fx)
                    counts.append(f"{table} {rows} row{'' if rows == 1 else 's'}")
            self.bump_sequences(conn)
        return counts

    # -- .sql ------------------------------------------------------------------------
    def fail(self, fx: Fixture, line: int | None, message: str):
        where = f"{fx.rel}:{line}" if line else fx.rel
        return SeedError(f"{self.name}: {where}: {message}", "fix the fixture and run `devstack seed` again; the database was left as it was", intact=True)

    def read_text(self, fx: Fixture) -> str:
        try:
            return fx.path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise self.fail(fx, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    def run_sql(self, conn, fx: Fixture) -> int:
        import psycopg

        from devstack.seed import sqlsplit  # its regexes cost ~30 ms to compile: not in every `up`

        text = self.read_text(fx)
        lines = sqlsplit.Lines(text)
        statements = sqlsplit.split(text)
        executed = 0
        batch: list[sqlsplit.Statement] = []

        def flush():
            nonlocal executed
            if not batch:
                return
            start, end = batch[0].start, batch[-1].end
            chunk = text[start:end]
            # Statements left out become blanks of the same length: positions still map to lines.
            for st in batch:
                if st.kind == "tx":
                    a, b = st.start - start, st.end - start
                    chunk = chunk[:a] + re.sub(r"[^\n]", " ", chunk[a:b]) + chunk[b:]
            runnable = [st for st in batch if st.kind == "sql"]
            if runnable:
                conn.execute("SAVEPOINT devstack_seed")
                try:
                    conn.execute(chunk)
                except psycopg.Error as exc:
                    pos = getattr(exc.diag, "statement_position", None)
                    if pos:
                        raise self.fail(fx, lines.line(start + int(pos) - 1), error_text(exc)) from None
                    conn.execute("ROLLBACK TO SAVEPOINT devstack_seed")
                    self.locate(conn, fx, text, lines, runnable, exc)
                conn.execute("RELEASE SAVEPOINT devstack_seed")
                executed += len(runnable)
            batch.clear()

        for st in statements:
            if st.kind in ("sql", "tx"):
                batch.append(st)
                continue
            flush()
            if st.kind == "meta":
                word = text[st.start:st.end].split()[0]
                if word in ("\\restrict", "\\unrestrict"):  # pg_dump 17.6+ guards; nothing to do here
                    continue
                raise self.fail(fx, lines.line(st.start), f"psql meta-command `{word}` is not supported in fixtures")
            if st.kind == "refuse":
                raise self.fail(fx, lines.line(st.start), "ROLLBACK/ABORT is not allowed: devstack loads all fixtures in one transaction")
            if st.kind == "copy":
                self.copy_block(conn, fx, text, lines, st)
                executed += 1
        flush()
        conn.execute("RESET ALL")  # a fixture's SET / set_config must not leak into the next one
        return executed

    def locate(self, conn, fx, text, lines, runnable, first_exc):
        """The batch failed without a position: run it statement by statement to find the line."""
        import psycopg

        for st in runnable:
            try:
                conn.execute(text[st.start:st.end])
            except psycopg.Error as exc:
                pos = getattr(exc.diag, "statement_position", None)
                line = lines.line(st.start + int(pos) - 1) if pos else lines.line(st.start)
                raise self.fail(fx, line, error_text(exc)) from None
        raise self.fail(fx, lines.line(runnable[0].start), error_text(first_exc))

    def copy_block(self, conn, fx, text, lines, st) -> None:
        import psycopg

        statement = text[st.start:st.end].rstrip().rstrip(";")
        data = text[st.data_start:st.data_end].encode()
        try:
            with conn.cursor() as cur:
                with cur.copy(statement) as copy:
                    copy.write(data)
        except psycopg.Error as exc:
            line = self.copy_line(exc, lines.line(st.data_start) - 1) or lines.line(st.start)
            raise self.fail(fx, line, error_text(exc)) from None

    @staticmethod
    def copy_line(exc, first_line_offset: int) -> int | None:
        m = re.search(r"\bline (\d+)", getattr(exc.diag, "context", None) or "")
        return int(m.group(1)) + first_line_offset if m else None

    # -- .csv / .tsv -------------------------------------------------------------------
    def copy_file(self, conn, fx: Fixture) -> tuple[int, str]:
        import psycopg
        from psycopg import sql

        table = fx.options.get("table") or table_for(fx.path)
        target = sql.SQL(".").join(sql.Identifier(p) for p in table.split(".", 1))
        tsv = fx.suffix == ".tsv"
        with open(fx.path, "rb") as handle:
            header = handle.readline()
            try:
                text = header.decode("utf-8-sig").rstrip("\r\n")
            except UnicodeDecodeError:
                raise self.fail(fx, 1, "the header row is not UTF-8") from None
            if not text.strip():
                raise self.fail(fx, 1, "expected a header row naming the columns")
            columns = text.split("\t") if tsv else next(csv.reader(io.StringIO(text)))
            columns = [c.strip() for c in columns]
            if not all(columns):
                raise self.fail(fx, 1, f"empty column name in the header row: {text!r}")
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            options = sql.SQL("(FORMAT text)" if tsv else "(FORMAT csv, HEADER true)")
            query = sql.SQL("COPY {} ({}) FROM STDIN {}").format(target, cols, options)
            try:
                with conn.cursor() as cur:
                    with cur.copy(query) as copy:
                        if not tsv:
                            copy.write(header)
                        while chunk := handle.read(CHUNK):
                            copy.write(chunk)
                    rows = cur.rowcount
            except psycopg.Error as exc:
                line = self.copy_line(exc, 1 if tsv else 0) or 1
                raise self.fail(fx, line, error_text(exc) + ("" if fx.options.get("table") else f" (table `{table}` from the file name; set `table:` in the manifest to load elsewhere)" if exc.sqlstate == "42P01" else "")) from None
        return rows, table

    def bump_sequences(self, conn) -> None:
        """Rows loaded with explicit ids leave serial/identity sequences behind: move them past max(id)."""
        from psycopg import sql

        rows = conn.execute(
            """SELECT n.nspname, c.relname, a.attname, pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
               WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                 AND (a.attidentity <> '' OR pg_get_expr((SELECT adbin FROM pg_attrdef d WHERE d.adrelid = c.oid AND d.adnum = a.attnum), c.oid) LIKE 'nextval(%')"""
        ).fetchall()
        for schema, table, column, seq in rows:
            if not seq:
                continue
            top = conn.execute(sql.SQL("SELECT max({}) FROM {}.{}").format(sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
            if top is None or not isinstance(top, int):
                continue
            last = conn.execute(sql.SQL("SELECT last_value FROM {}").format(sql.SQL(seq))).fetchone()[0]
            if top >= last:
                conn.execute("SELECT setval(%s, %s)", (seq, top))

    # -- snapshot --------------------------------------------------------------------
    def present(self, record):
        with self.admin() as admin:
            sysid = str(admin.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
            return sysid == record.get("sysid") and self.exists(admin, self.database) and self.exists(admin, record.get("template", ""))

    def reset(self, record):
        db, template = self.database, record.get("template") or aux_name(self.database, "_seeded")
        t0 = time.monotonic()
        with self.admin() as admin:
            if not self.exists(admin, template):
                return False
            self.drop(admin, db)
            self.create(admin, db, template=template)
        self.say(f"reset to the seeded state from {template} in {time.monotonic() - t0:.2f}s")
        return True


seeder = PostgresSeeder
