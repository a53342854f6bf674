"""devstack_postgres's database: one per worker, back to the seeded state after every test.

Cloning a database per test (CREATE DATABASE ... TEMPLATE, as pytest-postgresql
does) costs 50-250 ms each on a small machine, most of a short test. So each
worker clones the seeded template once, remembers what the clone holds (every
table's rows as binary COPY data, every sequence's value, the catalog's size)
and after each test puts back only what the test changed:

- a table changed when its row count differs or a row is newer than the last
  reset (its xmin is younger than the reset's transaction): its rows are
  deleted and copied back, with triggers and foreign keys off
  (session_replication_role = replica) so the order does not matter;
- a sequence changed when its value differs: setval back;
- the schema changed (a table, column, function, type... created, altered or
  dropped: a catalog row newer than the last reset, or a catalog that shrank):
  the database is dropped and cloned again, as a per-test clone would.

Other connections (the app's pool) may stay open across tests; one that still
holds a lock after the test is terminated. Without superuser rights, or with
seeded data too big to keep, every dirty test gets a fresh clone instead.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

KEEP_LIMIT = 64 << 20  # seeded bytes kept in memory for resets; above this a dirty test gets a new clone
XID_MOD = 1 << 32  # txid_current() counts epochs; xmin is the 32-bit xid
CATALOGS = ("pg_class", "pg_attribute", "pg_namespace", "pg_type", "pg_proc", "pg_constraint", "pg_index",
            "pg_trigger", "pg_attrdef", "pg_rewrite", "pg_extension", "pg_enum", "pg_sequence", "pg_policy",
            "pg_largeobject_metadata")
USER_RELATIONS = """
    SELECT c.oid::regclass::text, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'S') AND c.relpersistence <> 't'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      AND n.nspname NOT LIKE 'pg_temp%'
    ORDER BY 1"""
# Temp tables of other sessions come and go with them: not a schema change of this database.
NOT_TEMP = {"pg_class": "relpersistence <> 't'", "pg_namespace": "nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'"}


def template_of(admin, database: str) -> str:
    """The seeded snapshot devstack's seeder keeps (`<db>_seeded`), else the app's database itself."""
    from devstack.seed.postgres import aux_name

    seeded = aux_name(database, "_seeded")
    found = {r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", [[seeded, database]])}
    return seeded if seeded in found else database


class Baseline:
    """What a fresh clone holds, and the query that finds what a test changed."""

    def __init__(self, conn):
        self.tables: list[str] = []
        self.rows: dict[str, bytes] = {}
        self.sequences: dict[str, tuple[int | None, int]] = {}
        counts: dict[str, int] = {}
        kept = 0
        for name, kind in conn.execute(USER_RELATIONS).fetchall():
            if kind == "S":
                last, start = conn.execute("SELECT pg_sequence_last_value(%s::regclass), seqstart FROM pg_sequence "
                                           "WHERE seqrelid = %s::regclass", [name, name]).fetchone()
                self.sequences[name] = (last, start)
                continue
            self.tables.append(name)
            counts[name] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(name))).fetchone()[0]
            if counts[name]:
                data = bytearray()
                with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(sql.SQL(name))) as copy:
                    for chunk in copy:
                        data += chunk
                self.rows[name] = bytes(data)
                kept += len(data)
        self.restorable = kept <= KEEP_LIMIT and _can_disable_triggers(conn)
        catalog_counts = {c: conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
            sql.Identifier(c), sql.SQL(NOT_TEMP.get(c, "true")))).fetchone()[0] for c in CATALOGS}
        self.query = _dirty_query(self.tables, counts, self.sequences, catalog_counts)
        self.xid = conn.execute("SELECT txid_current() %% %s", [XID_MOD]).fetchone()[0]

    def dirty(self, conn) -> list[str]:
        """Names of the tables and sequences a test changed, or ["!schema"]."""
        return [row[0] for row in conn.execute(self.query, {"xid": str(self.xid)}).fetchall()]

    def restore(self, conn, dirty: list[str]) -> None:
        tables = [name for name in dirty if name in self.rows or name in self.tables]
        statements = ["BEGIN", "SET LOCAL session_replication_role = replica", "SET LOCAL synchronous_commit = off",
                      "SET LOCAL lock_timeout = '2s'"]
        statements += [f"DELETE FROM {name}" for name in tables]
        for name in dirty:
            if name in self.sequences:
                last, start = self.sequences[name]
                value, called = (last, "true") if last is not None else (start, "false")
                statements.append(f"SELECT setval({_literal(name)}::regclass, {int(value)}, {called})")
        try:
            conn.execute("; ".join(statements))
            cursor = conn.cursor()
            for name in tables:
                if name in self.rows:
                    with cursor.copy(sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(sql.SQL(name))) as copy:
                        copy.write(self.rows[name])
            xid = conn.execute("SELECT txid_current() %% %s", [XID_MOD]).fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            if not conn.closed:
                conn.execute("ROLLBACK")
            raise
        self.xid = xid  # rows put back now carry this xid: not newer than it, so not dirty


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _can_disable_triggers(conn) -> bool:
    try:
        conn.execute("SET session_replication_role = replica")
        conn.execute("RESET session_replication_role")
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False


def _dirty_query(tables, counts, sequences, catalog_counts) -> str:
    newer = "bool_or(age(xmin) < age(%(xid)s::text::xid))"
    parts = []
    for catalog, count in catalog_counts.items():
        where = NOT_TEMP.get(catalog, "true")
        parts.append(f"SELECT '!schema' FROM (SELECT count(*) AS n, {newer} AS d FROM {catalog} WHERE {where}) x "
                     f"WHERE n <> {count} OR d")
    for name in tables:
        parts.append(f"SELECT {_literal(name)} FROM (SELECT count(*) AS n, {newer} AS d FROM {name}) x "
                     f"WHERE n <> {counts[name]} OR d")
    for name, (last, _) in sequences.items():
        value = "NULL" if last is None else int(last)
        parts.append(f"SELECT {_literal(name)} WHERE pg_sequence_last_value({_literal(name)}::regclass) IS DISTINCT FROM {value}")
    return " UNION ALL ".join(parts).replace("%", "%%").replace("%%(xid)s", "%(xid)s")


class WorkerDatabase:
    """This worker's database on one postgres service."""

    def __init__(self, outputs: dict, name: str):
        self.outputs = outputs
        self.name = name
        self.admin = self._connect("postgres")
        self.template = template_of(self.admin, outputs["database"])
        self.conn = None
        self.baseline: Baseline | None = None
        self.clones = 0  # how many times it was cloned (tests read it)
        self.clone()

    def _connect(self, dbname: str):
        o = self.outputs
        return psycopg.connect(host=o["host"], port=o["port"], user=o["user"], password=o["password"], dbname=dbname,
                               autocommit=True, connect_timeout=10)

    def clone(self) -> None:
        if self.conn is not None:
            self.conn.close()
        name, template = sql.Identifier(self.name), sql.Identifier(self.template)
        self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        try:
            self.admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(name, template))
        except psycopg.errors.ObjectInUse:
            # No seeded snapshot and the app holds connections to its database (attach mode).
            raise RuntimeError(f"cannot clone {self.template}: other sessions are connected to it; "
                               "seed the database (`seed:`) so devstack keeps a template, or close them") from None
        self.conn = self._connect(self.name)
        self.baseline = Baseline(self.conn)
        self.clones += 1

    def reset(self) -> None:
        """Back to the seeded state after a test."""
        try:
            dirty = self.baseline.dirty(self.conn)
            if not dirty:
                return
            if "!schema" in dirty or not self.baseline.restorable:
                self.clone()
                return
            try:
                self.baseline.restore(self.conn, dirty)
            except psycopg.errors.LockNotAvailable:
                self._terminate_others()
                self.baseline.restore(self.conn, dirty)
        except psycopg.Error:
            self.clone()  # whatever went wrong, a new clone is the seeded state

    def _terminate_others(self) -> None:
        self.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                           [self.name])

    def drop(self) -> None:
        try:
            if self.conn is not None:
                self.conn.close()
            self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
        finally:
            self.admin.close()
