"""MariaDB/MySQL fixtures: migration command, .sql files, .csv/.tsv as batched inserts.

A seed builds the database afresh beside the app's one (`<db>__devstack_next`):
the migration command runs with the app's env pointing there, then every
fixture loads. A copy of the result becomes the snapshot (`<db>__devstack_seeded`)
that `--reset` copies back. On any error the half-built database is dropped:
the app's database was never touched.

MySQL has no RENAME DATABASE, but one RENAME TABLE statement moving many
tables is atomic, across databases too: the new tables move into the app's
database and its old ones out (into `<db>__devstack_old`) in one statement,
so at every instant the app's database holds a whole state, old or new.
Views and triggers cannot move across databases: they are re-created right
after the swap (a kill in those milliseconds leaves the tables whole and the
views/triggers missing until the next `devstack seed --reset`). What a killed
run leaves beside the app's database is dropped by `repair`, run first by
every seed, reset and presence check.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import re
import time
import uuid

from devstack.seed.base import Fixture, SeedError, Seeder, short_error
from devstack.seed.sqlfixtures import SqlFixtures, table_for
from devstack.seed.specs import MariadbSpec

MAX_IDENT = 64
NEXT, OLD, SEEDED = "__devstack_next", "__devstack_old", "__devstack_seeded"
MARKER = "__devstack_seed"  # a table in the snapshot: the id of the seed that made it
BATCH = 1000  # CSV rows per INSERT
LOCK_WAIT = 5  # seconds a swap waits for the app's open transactions, per attempt
ATTEMPTS = 5


def aux_name(db: str, suffix: str) -> str:
    """`<db><suffix>`, shortened with a hash when over MySQL's 64-character names."""
    name = db + suffix
    if len(name) <= MAX_IDENT:
        return name
    tag = hashlib.sha256(db.encode()).hexdigest()[:8]
    return db[: MAX_IDENT - len(suffix) - 9] + "_" + tag + suffix


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def grant_pattern(db: str) -> str:
    """A database name in GRANT ... ON: `_` and `%` are wildcards there."""
    return ident(db.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%"))


def error_text(exc) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return short_error(f"{args[1]} (error {args[0]})")
    return short_error(str(exc) or type(exc).__name__)


class MariadbSeeder(SqlFixtures, MariadbSpec, Seeder):
    kind = "mariadb"

    def names(self) -> dict[str, str]:
        db = self.database
        return {
            "next": aux_name(db, NEXT),  # being built or copied: never whole until it is swapped in
            "old": aux_name(db, OLD),  # what a swap moved out of the app's database: only to drop
            "snapshot": aux_name(db, SEEDED),
            "snapshot_next": aux_name(db, SEEDED + NEXT),
            "snapshot_old": aux_name(db, SEEDED + OLD),
        }

    # -- connections ---------------------------------------------------------------
    def connect(self, database: str | None = None):
        """As root: a seed creates and swaps databases, which the app's user may not."""
        import pymysql

        o = self.svc.outputs
        try:
            conn = pymysql.connect(host=o["host"], port=int(o["port"]), user="root", password=o["root_password"],
                                   database=database, charset="utf8mb4", autocommit=True, connect_timeout=10)
        except pymysql.MySQLError as exc:
            raise SeedError(f"{self.name}: cannot connect to {self.svc.kind.name} at {o['host']}:{o['port']} as root: {error_text(exc)}",
                            "is the stack up? `devstack up` / `devstack status`", intact=True) from None
        with conn.cursor() as cur:
            cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT}")
        return conn

    @contextlib.contextmanager
    def session(self, database: str | None = None):
        """A root connection; a server error on it is one SeedError (the app's database is whole)."""
        import pymysql

        conn = self.connect(database)
        try:
            yield conn
        except pymysql.MySQLError as exc:
            raise SeedError(f"{self.name}: {error_text(exc)}", "the app's database was left as it was; run `devstack seed` again",
                            intact=True) from None
        finally:
            conn.close()

    @staticmethod
    def query(conn, sql: str, args=None) -> list[tuple]:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def exists(self, conn, db: str) -> bool:
        return bool(self.query(conn, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (db,)))

    def drop(self, conn, db: str) -> None:
        self.query(conn, f"DROP DATABASE IF EXISTS {ident(db)}")

    def create_like(self, conn, db: str, like: str) -> None:
        """A new empty database with the character set and collation of `like`."""
        found = self.query(conn, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                                 "WHERE SCHEMA_NAME = %s", (like,))
        charset, collation = found[0] if found else ("utf8mb4", "utf8mb4_unicode_ci")
        self.query(conn, f"CREATE DATABASE {ident(db)} CHARACTER SET {charset} COLLATE {collation}")

    def repair(self, conn) -> None:
        """Drop what a killed seed or reset left beside the app's database (the app's
        database itself is always whole); make sure it exists."""
        n = self.names()
        self.end_killed_seeds(conn)
        for leftover in ("next", "old", "snapshot_next", "snapshot_old"):
            self.drop(conn, n[leftover])
        if not self.exists(conn, self.database):
            self.query(conn, f"CREATE DATABASE {ident(self.database)}")

    def end_killed_seeds(self, conn) -> None:
        """A killed seed's statements run on in the server after their client is gone
        (an INSERT ... SELECT into a database beside the app's): end them and wait, so
        their databases can be dropped. The app's own sessions are never touched."""
        aux = list(self.names().values())
        pattern = "%" + ident(self.database).replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")[:-1] + "\\_\\_devstack\\_%"
        marks = ", ".join(["%s"] * len(aux))
        query = (f"SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND "
                 f"(DB IN ({marks}) OR INFO LIKE %s)")
        deadline = time.monotonic() + 30
        while True:
            found = [r[0] for r in self.query(conn, query, (*aux, pattern))]
            if not found or time.monotonic() > deadline:
                return
            for pid in found:
                try:
                    self.query(conn, f"KILL {int(pid)}")
                except Exception:  # noqa: BLE001, S110 - it ended by itself meanwhile
                    pass
            time.sleep(0.1)

    # -- objects of a database ---------------------------------------------------------
    def tables(self, conn, db: str) -> list[str]:
        return [r[0] for r in self.query(conn, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                                               "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (db,))]

    def views(self, conn, db: str) -> dict[str, str]:
        """name -> CREATE VIEW statement, its references to `db` left for the caller to rewrite."""
        names = [r[0] for r in self.query(conn, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s "
                                                "ORDER BY TABLE_NAME", (db,))]
        return {v: self.query(conn, f"SHOW CREATE VIEW {ident(db)}.{ident(v)}")[0][1] for v in names}

    def triggers(self, conn, db: str) -> dict[str, str]:
        names = [r[0] for r in self.query(conn, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                                                "ORDER BY ACTION_ORDER", (db,))]
        return {t: self.query(conn, f"SHOW CREATE TRIGGER {ident(db)}.{ident(t)}")[0][2] for t in names}

    def refuse_unsupported(self, conn, db: str) -> None:
        routines = self.query(conn, "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s", (db,))
        events = self.query(conn, "SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s", (db,))
        sequences = self.query(conn, "SELECT 'SEQUENCE', TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                                     "AND TABLE_TYPE = 'SEQUENCE'", (db,))
        found = routines + events + sequences
        if found:
            listed = ", ".join(f"{kind.lower()} {name}" for kind, name in found[:5])
            raise SeedError(f"{self.name}: the seeded database has {listed}: devstack's snapshots copy tables, views and triggers only",
                            "create stored routines, events and sequences from the app (e.g. its migrations after seeding)")

    def create_views(self, conn, views: dict[str, str], source: str, target: str) -> None:
        """Views in `target`, in an order that works (a view may select from another)."""
        pending = {name: sql.replace(ident(source) + ".", ident(target) + ".") for name, sql in views.items()}
        import pymysql

        while pending:
            failed, last = {}, None
            for name, sql in pending.items():
                try:
                    self.query(conn, f"USE {ident(target)}")
                    self.query(conn, sql)
                except pymysql.MySQLError as exc:
                    failed[name], last = sql, exc
            if len(failed) == len(pending):
                raise SeedError(f"{self.name}: cannot re-create view {next(iter(failed))}: {error_text(last)}")
            pending = failed

    def create_triggers(self, conn, triggers: dict[str, str], target: str) -> None:
        self.query(conn, f"USE {ident(target)}")
        for sql in triggers.values():
            self.query(conn, sql)

    # -- copy and swap ---------------------------------------------------------------
    def copy(self, conn, source: str, target: str, seed_id: str | None = None) -> None:
        """`target` made a new copy of `source`: tables (definition, rows, AUTO_INCREMENT),
        views, triggers. With seed_id: the marker table saying which seed it is."""
        self.create_like(conn, target, source)
        self.query(conn, "SET SESSION foreign_key_checks = 0")
        try:
            for table in self.tables(conn, source):
                if table == MARKER:
                    continue
                create = self.query(conn, f"SHOW CREATE TABLE {ident(source)}.{ident(table)}")[0][1]
                self.query(conn, f"USE {ident(target)}")
                self.query(conn, create)
                columns = [r[0] for r in self.query(conn, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                                                          "AND TABLE_NAME = %s AND EXTRA NOT LIKE '%%GENERATED%%' ORDER BY ORDINAL_POSITION",
                                                    (source, table))]
                cols = ", ".join(ident(c) for c in columns)
                self.query(conn, f"INSERT INTO {ident(target)}.{ident(table)} ({cols}) SELECT {cols} FROM {ident(source)}.{ident(table)}")
            self.create_views(conn, self.views(conn, source), source, target)
            self.create_triggers(conn, self.triggers(conn, source), target)
            if seed_id:
                self.query(conn, f"CREATE TABLE {ident(target)}.{ident(MARKER)} (id varchar(64) NOT NULL)")
                self.query(conn, f"INSERT INTO {ident(target)}.{ident(MARKER)} VALUES (%s)", (seed_id,))
        finally:
            self.query(conn, "SET SESSION foreign_key_checks = 1")

    def swap_in(self, conn, name: str, replacement: str, aside: str) -> None:
        """`name` gets `replacement`'s tables, views and triggers; its own tables move
        to `aside` (then dropped) in the same RENAME TABLE statement."""
        import pymysql

        views, triggers = self.views(conn, replacement), self.triggers(conn, replacement)
        for trigger in triggers:  # triggers cannot move to another database with their table
            self.query(conn, f"DROP TRIGGER {ident(replacement)}.{ident(trigger)}")
        self.drop(conn, aside)
        self.create_like(conn, aside, name)
        old_tables, new_tables = self.tables(conn, name), self.tables(conn, replacement)
        moves = [f"{ident(name)}.{ident(t)} TO {ident(aside)}.{ident(t)}" for t in old_tables]
        moves += [f"{ident(replacement)}.{ident(t)} TO {ident(name)}.{ident(t)}" for t in new_tables]
        if not self.exists(conn, name):
            self.create_like(conn, name, replacement)
        for attempt in range(ATTEMPTS):
            try:
                for trigger in self.triggers(conn, name):
                    self.query(conn, f"DROP TRIGGER {ident(name)}.{ident(trigger)}")
                for view in self.views(conn, name):
                    self.query(conn, f"DROP VIEW {ident(name)}.{ident(view)}")
                if moves:
                    self.query(conn, "RENAME TABLE " + ", ".join(moves))
                break
            except pymysql.err.OperationalError as exc:
                if exc.args[0] != 1205 or attempt == ATTEMPTS - 1:  # 1205: lock wait timeout
                    raise SeedError(f"{self.name}: cannot swap the seeded tables into {name}: {error_text(exc)}",
                                    "a client holds a transaction open on the database: end it and run `devstack seed` again", intact=True) from None
        self.create_views(conn, views, replacement, name)
        self.create_triggers(conn, triggers, name)
        self.drop(conn, aside)

    # -- seed ------------------------------------------------------------------------
    def load(self, fixtures):
        db, n = self.database, self.names()
        started = time.monotonic()
        with self.session() as conn:
            self.repair(conn)
            self.create_like(conn, n["next"], db)
            try:
                migrate = self.svc.options.get("migrate")
                if migrate:
                    target = grant_pattern(n["next"]).replace("%", "%%")
                    self.query(conn, f"GRANT ALL PRIVILEGES ON {target}.* TO %s@'%%'", (self.svc.outputs["user"],))
                    self.migrate(migrate, database=n["next"])
                counts = self.load_fixtures(n["next"], fixtures) if fixtures else []
                self.refuse_unsupported(conn, n["next"])
                seed_id = uuid.uuid4().hex
                self.copy(conn, n["next"], n["snapshot_next"], seed_id)
                self.swap_in(conn, n["snapshot"], n["snapshot_next"], n["snapshot_old"])
                self.swap_in(conn, db, n["next"], n["old"])
            finally:
                for leftover in ("next", "snapshot_next", "old", "snapshot_old"):
                    self.drop(conn, n[leftover])
        summary = ", ".join(counts) if counts else "no fixtures"
        self.say(f"{summary} in {time.monotonic() - started:.2f}s (snapshot {n['snapshot']})")
        return {"database": db, "snapshot": n["snapshot"], "seed_id": seed_id}

    def load_session(self, db: str):
        return self.session(db)

    def load_table(self, conn, fx: Fixture) -> tuple[int, str]:
        return self.insert_file(conn, fx)

    # -- .sql ----------------------------------------------------------------------------
    def run_sql(self, conn, fx: Fixture) -> int:
        import pymysql

        from devstack.seed import mysqlsplit

        text = self.read_text(fx)
        lines = mysqlsplit.Lines(text)
        statements = mysqlsplit.split(text)
        with conn.cursor() as cur:
            for st in statements:
                word = st.text.split(None, 1)[0].upper().rstrip(";")
                if word == "USE" or re.match(r"(CREATE|DROP)\s+(DATABASE|SCHEMA)\b", st.text, re.IGNORECASE):
                    raise SeedError(f"{self.name}: {fx.rel}:{lines.line(st.start)}: `{' '.join(st.text.split()[:3])}` is not allowed: "
                                    "fixtures load into the service's own database",
                                    "remove it (a mysqldump made without --databases has none)", intact=True)
                try:
                    cur.execute(st.text)
                    while cur.nextset():
                        pass
                except pymysql.MySQLError as exc:
                    raise self.fail(fx, lines.line(st.start) + _error_line(exc), error_text(exc)) from None
        return len(statements)

    # -- .csv / .tsv -------------------------------------------------------------------
    def insert_file(self, conn, fx: Fixture) -> tuple[int, str]:
        import pymysql

        table = fx.options.get("table") or table_for(fx.path)
        tsv = fx.suffix == ".tsv"
        with open(fx.path, encoding="utf-8-sig", newline="") as handle:
            try:
                rows = _tsv_rows(handle) if tsv else csv.reader(handle)
                header = next(rows, None)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise self.fail(fx, 1, f"cannot read the header row: {exc}") from None
            if not header or not any(c.strip() for c in header):
                raise self.fail(fx, 1, "expected a header row naming the columns")
            columns = [c.strip() for c in header]
            if not all(columns):
                raise self.fail(fx, 1, f"empty column name in the header row: {header!r}")
            statement = (f"INSERT INTO {ident(table)} ({', '.join(ident(c) for c in columns)}) "
                         f"VALUES ({', '.join(['%s'] * len(columns))})")
            count, batch, first_line = 0, [], 2
            with conn.cursor() as cur:
                try:
                    for values in rows:
                        line = first_line + count
                        if len(values) != len(columns):
                            if not values:  # a blank line
                                continue
                            raise self.fail(fx, line, f"{len(values)} fields, the header names {len(columns)}")
                        batch.append(values if tsv else [None if v == "" else v for v in values])  # CSV: an empty field is NULL
                        count += 1
                        if len(batch) >= BATCH:
                            self._insert(cur, fx, statement, batch, line - len(batch) + 1)
                            batch = []
                    self._insert(cur, fx, statement, batch, first_line + count - len(batch))
                except (UnicodeDecodeError, csv.Error) as exc:
                    raise self.fail(fx, first_line + count, str(exc)) from None
                except pymysql.err.ProgrammingError as exc:
                    if exc.args and exc.args[0] == 1146 and not fx.options.get("table"):  # no such table
                        raise self.fail(fx, 1, error_text(exc) + f" (table `{table}` from the file name; set `table:` in the manifest to load elsewhere)") from None
                    raise self.fail(fx, None, error_text(exc)) from None
        return count, table

    def _insert(self, cur, fx, statement: str, batch: list, first_line: int) -> None:
        """One multi-row INSERT; on an error, row by row to name the line."""
        import pymysql

        if not batch:
            return
        try:
            cur.executemany(statement, batch)
            return
        except pymysql.err.ProgrammingError:
            raise
        except pymysql.MySQLError:
            pass
        for offset, row in enumerate(batch):  # a failed multi-row INSERT inserted nothing (one statement)
            try:
                cur.execute(statement, row)
            except pymysql.MySQLError as exc:
                raise self.fail(fx, first_line + offset, error_text(exc)) from None

    # -- snapshot ----------------------------------------------------------------------
    def marker(self, conn) -> str | None:
        import pymysql

        try:
            found = self.query(conn, f"SELECT id FROM {ident(self.names()['snapshot'])}.{ident(MARKER)}")
        except pymysql.MySQLError:
            return None
        return found[0][0] if found else None

    def present(self, record):
        with self.session() as conn:
            self.repair(conn)
            return bool(record.get("seed_id")) and self.marker(conn) == record["seed_id"]

    def reset(self, record):
        """A copy of the snapshot is made beside the app's database, then swapped in."""
        db, n = self.database, self.names()
        t0 = time.monotonic()
        with self.session() as conn:
            self.repair(conn)
            if not record.get("seed_id") or self.marker(conn) != record["seed_id"]:
                return False
            try:
                self.copy(conn, n["snapshot"], n["next"])
                self.swap_in(conn, db, n["next"], n["old"])
            finally:
                self.drop(conn, n["next"])
                self.drop(conn, n["old"])
        self.say(f"reset to the seeded state from {n['snapshot']} in {time.monotonic() - t0:.2f}s")
        return True


def _error_line(exc) -> int:
    """Lines into the statement MySQL points at (`... at line N`), minus one."""
    match = re.search(r"at line (\d+)", str(getattr(exc, "args", ("", ""))[-1]))
    return int(match.group(1)) - 1 if match else 0


def _tsv_rows(handle):
    """PostgreSQL/MySQL text format: tab-separated, `\\N` is NULL, backslash escapes."""
    escapes = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "0": "\0"}
    for line in handle:
        line = line.rstrip("\r\n")
        if not line:
            yield []
            continue
        fields = []
        for raw in line.split("\t"):
            if raw == "\\N":
                fields.append(None)
            else:
                fields.append(re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), raw))
        yield fields


seeder = MariadbSeeder
