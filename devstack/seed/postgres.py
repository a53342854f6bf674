"""Postgres fixtures: migration command, .sql files, .csv/.tsv through COPY.

A seed builds the database afresh beside the app's one (`<db>__devstack_next`):
the migration command runs with the app's env pointing there, every fixture
loads in ONE transaction, and the result is copied into a new template. Then
both are swapped in under their names (`<db>`, `<db>_seeded`) in one
transaction. On any error the half-built ones are dropped: the app's database
was never touched. `--reset` clones the template beside the app's database
and swaps the copy in the same way.

Crash safety: names change only in one transaction of renames, so at every
instant a whole database answers to the app's name, old or new, and nothing is
ever left blocked. What a killed run leaves beside it (`__next`, `__old`) is
dropped by `repair`, run at the start of every seed, reset and presence check.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time

from devstack.seed.base import Fixture, SeedError, Seeder, short_error
from devstack.seed.sqlfixtures import SqlFixtures, table_for
from devstack.seed.specs import PostgresSpec

MAX_IDENT = 63
CHUNK = 1 << 20
# Suffixes of the databases beside the app's one (see PostgresSeeder.names).
PREV, NEXT, OLD, SEEDED = "__devstack_prev", "__devstack_next", "__devstack_old", "_seeded"
SEED_ID_PREFIX = "devstack seed "
ATTEMPTS = 5
APPLICATION_NAME = "devstack-seed"  # how a seed's own sessions are told apart from the app's
DROPPER_NAME = "devstack-seed-drop"  # a session dropping what a finished swap put aside
DROP_WAIT = 60.0  # seconds the next seed waits for such a drop before ending it


def aux_name(db: str, suffix: str) -> str:
    """`<db><suffix>`, shortened with a hash when over Postgres' 63-byte names."""
    name = db + suffix
    if len(name.encode()) <= MAX_IDENT:
        return name
    tag = hashlib.sha256(db.encode()).hexdigest()[:8]
    keep = MAX_IDENT - len(suffix) - 9
    return db.encode()[:keep].decode(errors="ignore") + "_" + tag + suffix


def error_text(exc) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc).splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    return short_error(primary + (f" ({detail})" if detail else ""))


class PostgresSeeder(SqlFixtures, PostgresSpec, Seeder):
    kind = "postgres"

    # -- connections -----------------------------------------------------------
    def connect(self, dbname: str, autocommit: bool = False):
        import psycopg

        o = self.svc.outputs
        try:
            return psycopg.connect(host=o["host"], port=o["port"], user=o["user"], password=o["password"], dbname=dbname,
                                   autocommit=autocommit, connect_timeout=10, application_name=APPLICATION_NAME)
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

    def names(self) -> dict[str, str]:
        """The aside databases of the app's one: each name says what a killed run left."""
        db = self.database
        return {
            "prev": aux_name(db, PREV),  # older devstacks: the database before an unfinished seed
            "next": aux_name(db, NEXT),  # being built or copied: never whole until it is swapped in
            "old": aux_name(db, OLD),  # what a finished swap replaced: only to drop
            "template": aux_name(db, SEEDED),
            "template_next": aux_name(db, SEEDED + NEXT),
            "template_old": aux_name(db, SEEDED + OLD),
        }

    def drop(self, conn, name: str) -> None:
        """DROP DATABASE, whatever state it is in: a template, or left invalid by an
        interrupted DROP (PostgreSQL 15.4+ marks it so; it can then only be dropped)."""
        from psycopg import sql

        row = conn.execute("SELECT datistemplate, datconnlimit FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if row is None:
            return
        if row[0] and row[1] != -2:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(self.ident(name)))
        if conn.info.server_version >= 130000:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(self.ident(name)))
        else:
            self.end_sessions(conn, name)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(self.ident(name)))

    def drop_unwaited(self, conn, name: str) -> None:
        """Drop `name` (a database put aside by a finished swap, never a template)
        without waiting, as the last use of `conn`: the server runs the DROP on
        after the client is gone (a checkpoint, then deleting a big database's
        files: up to ~0.5 s on a slow disk). Crash-safe as it is: whatever is left
        of it is dropped by the next `repair`, which waits for this session first."""
        from psycopg import sql

        if conn.info.server_version < 130000:  # no DROP ... WITH (FORCE): the usual way
            self.drop(conn, name)
            return
        conn.execute("SELECT set_config('application_name', %s, false)", (DROPPER_NAME,))
        conn.pgconn.send_query(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(self.ident(name)).as_bytes(conn))
        conn.pgconn.flush()
        conn.close()  # the server reads our Terminate only after the DROP: it finishes, quietly

    @staticmethod
    def end_sessions(conn, name: str) -> None:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))

    def create(self, conn, name: str, template: str | None = None) -> None:
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {} OWNER {}").format(self.ident(name), self.ident(str(self.svc.outputs["user"])))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(self.ident(template))
            if conn.info.server_version >= 150000:
                # One checkpoint and a file copy: much faster than WAL-logging every block of a big database.
                query += sql.SQL(" STRATEGY FILE_COPY")
        if not template or template.endswith(SEEDED):  # nobody connects to a seeded template
            conn.execute(query)
            return
        self.in_use_retry(conn, template, lambda: conn.execute(query))

    def rename(self, conn, old: str, new: str) -> None:
        from psycopg import sql

        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(self.ident(old), self.ident(new)))

    def in_use_retry(self, conn, name: str, action) -> None:
        """Run `action`, which needs nobody else connected to `name` (the app may be):
        end their sessions, and retry while a client keeps reconnecting. The database
        is never blocked (ALLOW_CONNECTIONS false), so a kill leaves nothing locked."""
        import psycopg

        for attempt in range(ATTEMPTS):
            self.end_sessions(conn, name)
            try:
                return action()
            except psycopg.errors.ObjectInUse:  # the server waited 5 s for them to leave
                if attempt == ATTEMPTS - 1:
                    raise SeedError(f"{self.name}: database {name} stays in use (a client reconnects at once after being disconnected)",
                                    "stop the app (or its connection pool) and run `devstack seed` again", intact=True) from None

    def repair(self, conn) -> None:
        """Finish or roll back what a killed seed or reset left behind, so the app's
        database is its last whole state. Idempotent; cheap when there is nothing."""
        from psycopg import sql

        n = self.names()
        db = self.database
        # The last reset's drop of what it put aside may still run: let it finish.
        deadline = time.monotonic() + DROP_WAIT
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid() "
                           "AND state = 'active'", (DROPPER_NAME,)).fetchone() and time.monotonic() < deadline:
            time.sleep(0.01)
        # A killed seed's sessions may still be working on the server (a CREATE
        # DATABASE runs on after its client is gone): end them and wait, first.
        conn.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                     "WHERE application_name = ANY(%s) AND pid <> pg_backend_pid()", ([APPLICATION_NAME, DROPPER_NAME],))
        present = {row[0]: row[1] for row in conn.execute(
            "SELECT datname, datallowconn FROM pg_database WHERE datname = ANY(%s)", ([db, *n.values()],))}
        if n["prev"] in present:  # an older devstack was killed mid-seed: the database before it comes back
            self.drop(conn, n["old"])
            self.swap_in(conn, [(db, n["prev"], n["old"])])
            self.drop(conn, n["old"])
            self.say("an interrupted seed was rolled back")
        for leftover in ("next", "old", "template_next", "template_old"):
            if n[leftover] in present:
                self.drop(conn, n[leftover])
        if present.get(db) is False:  # blocked by an older devstack that was killed mid-seed
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(self.ident(db)))

    # -- seed ---------------------------------------------------------------------
    def load(self, fixtures):
        """Build the database afresh beside the app's one, with its snapshot, then
        swap both in under their names in one transaction: a kill at any instant
        leaves the old state or the new one, and the app is only disconnected
        for the swap."""
        db, n = self.database, self.names()
        started = time.monotonic()
        with self.repaired_admin() as admin:
            sysid = str(admin.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
            self.create(admin, n["next"])
        try:
            migrate = self.svc.options.get("migrate")
            if migrate:
                self.migrate(migrate, database=n["next"])
            counts = self.load_fixtures(n["next"], fixtures) if fixtures else []
            with self.admin() as admin:
                seed_id = self.snapshot(admin, n["next"], n["template_next"])
                self.swap_in(admin, [(db, n["next"], n["old"]), (n["template"], n["template_next"], n["template_old"])])
                self.drop(admin, n["old"])
                self.drop(admin, n["template_old"])
        except BaseException:
            with self.admin() as admin:
                self.drop(admin, n["next"])
                self.drop(admin, n["template_next"])
                if not self.exists(admin, db):  # the plan promises the app its database, if an empty one
                    self.create(admin, db)
            raise
        summary = ", ".join(counts) if counts else "no fixtures"
        self.say(f"{summary} in {time.monotonic() - started:.2f}s (snapshot {n['template']})")
        return {"sysid": sysid, "database": db, "template": n["template"], "seed_id": seed_id}

    def snapshot(self, admin, source: str, template: str) -> str:
        """`template` made a copy of `source`, marked a template. Its comment carries a
        fresh id: a new cluster (copied from a cached one, so with the same system
        identifier) never passes for the one that was seeded."""
        import uuid

        from psycopg import sql

        seed_id = uuid.uuid4().hex
        self.drop(admin, template)
        self.create(admin, template, template=source)
        admin.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(self.ident(template)))
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(self.ident(template), sql.Literal(SEED_ID_PREFIX + seed_id)))
        return seed_id

    def swap_in(self, conn, swaps: list[tuple[str, str, str]]) -> None:
        """(name, replacement, aside) each: in one transaction, `name` becomes `aside`
        (when it exists) and `replacement` becomes `name`."""
        def renames():
            with conn.transaction():
                for name, replacement, aside in swaps:
                    if self.exists(conn, name):
                        self.rename(conn, name, aside)
                    self.rename(conn, replacement, name)

        self.in_use_retry(conn, swaps[0][0], renames)

    def load_session(self, db: str):
        return self.connect(db)  # one transaction: commit at the end, rollback on any error

    def load_table(self, conn, fx: Fixture) -> tuple[int, str]:
        return self.copy_file(conn, fx)

    def after_load(self, conn) -> None:
        self.bump_sequences(conn)

    # -- .sql ------------------------------------------------------------------------
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
        admin = self.admin()
        try:
            self.repair(admin)
            there = self.is_seeded(admin, record)
        except BaseException:
            admin.close()
            raise
        # `seed --reset` asks this first: the reset right after reuses the session
        # (a login costs a SCRAM exchange) and the repair it just did.
        self._repaired = admin
        return there

    def is_seeded(self, admin, record) -> bool:
        template = record.get("template", "")
        if not self.exists(admin, self.database) or not self.exists(admin, template):
            return False
        if record.get("seed_id"):
            found = admin.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (template,)).fetchone()
            return bool(found) and found[0] == SEED_ID_PREFIX + record["seed_id"]
        sysid = str(admin.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
        return sysid == record.get("sysid")

    def close(self) -> None:
        admin, self._repaired = getattr(self, "_repaired", None), None
        if admin is not None:
            admin.close()

    def repaired_admin(self):
        """The session `present` left open and repaired, else a new one, repaired."""
        admin, self._repaired = getattr(self, "_repaired", None), None
        if admin is not None and not admin.closed:
            return admin
        admin = self.admin()
        self.repair(admin)
        return admin

    def reset(self, record):
        """A fresh copy of the template is made beside the app's database, then swapped in."""
        db, n = self.database, self.names()
        template = record.get("template") or n["template"]
        t0 = time.monotonic()
        with self.repaired_admin() as admin:
            if not self.exists(admin, template):
                return False
            self.create(admin, n["next"], template=template)
            self.swap_in(admin, [(db, n["next"], n["old"])])
            self.drop_unwaited(admin, n["old"])
        self.say(f"reset to the seeded state from {template} in {time.monotonic() - t0:.2f}s")
        return True


seeder = PostgresSeeder
