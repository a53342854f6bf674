"""PostgreSQL: the official image in Docker, host initdb/postgres natively."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from devstack.errors import UserError
from devstack.services.base import Kind, NotReady, Option, Port, url_quote


def db_name(project: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", project.lower()) or "app"


class Postgres(Kind):
    name = "postgres"
    seeder = "devstack.seed.postgres"
    seed_spec = "devstack.seed.specs:PostgresSpec"
    summary = "PostgreSQL database"
    options = {
        "version": Option((str, int), "15", "major version; picks the image tag postgres:<version>"),
        "image": Option(str, None, "image to run instead of postgres:<version>"),
        "user": Option(str, "app", "role the app connects as (superuser of this local server)"),
        "password": Option(str, None, "password of `user`; generated when unset", generate="password"),
        "database": Option(str, None, "database the app uses; defaults to the project name"),
        "databases": Option(list, [], "extra databases to create beside `database`"),
        "bin_dir": Option(str, None, "directory holding initdb/postgres for the native runtime"),
        "migrate": Option(str, None, "command run before SQL fixtures, with the app's env (e.g. `npx prisma migrate deploy`)", multiline=True),
    }
    ports = {"port": Port(5432)}
    default_env = {
        "DATABASE_URL": "{{ url }}",
        "PGHOST": "{{ host }}",
        "PGPORT": "{{ port }}",
        "PGUSER": "{{ user }}",
        "PGPASSWORD": "{{ password }}",
        "PGDATABASE": "{{ database }}",
    }
    output_help = {
        "url": "postgresql://user:password@host:port/database, what DATABASE_URL carries",
        "host": "address the server listens on (127.0.0.1)",
        "port": "TCP port of the server",
        "user": "role the app connects as",
        "password": "that role's password",
        "database": "the app's database",
        "name": "same as database",
        "databases": "every database created: `database` and then `databases`",
        "base_url": "url without the database, to build URLs of the other databases",
    }
    docker = "postgres:<version>, the official image (or `image:`); data in a named volume"
    native_binary = "the host's initdb + postgres (Debian: apt-get install postgresql; or pip install pgserver); as the `postgres` user when devstack runs as root"

    def image(self, svc):
        return svc.options["image"] or f"postgres:{svc.options['version']}"

    def database(self, svc, stack) -> str:
        return svc.options["database"] or db_name(stack.project)

    def outputs(self, svc, stack):
        o = svc.options
        database = self.database(svc, stack)
        base = f"postgresql://{url_quote(o['user'])}:{url_quote(o['password'])}@{svc.host}:{svc.ports['port']}"
        return {
            "url": f"{base}/{database}",
            "host": svc.host,
            "port": svc.ports["port"],
            "user": o["user"],
            "password": o["password"],
            "database": database,
            "name": database,
            "databases": [database, *o["databases"]],
            "base_url": base,
        }

    def check(self, options):
        problems = []
        if not str(options["version"]).split(".")[0].isdigit():
            problems.append(("version", f"expected a major version such as 15, got {options['version']!r}"))
        for db in options["databases"]:
            if not isinstance(db, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", db):
                problems.append(("databases", f"invalid database name {db!r}"))
        return problems

    def compose_context(self, svc, stack):
        major = int(str(svc.options["version"]).split(".")[0])
        # 18+ keeps PGDATA in a versioned dir under /var/lib/postgresql; mounting
        # the old .../data path makes 18 refuse to start.
        data_dir = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
        return {"data_dir": data_dir, "database": self.database(svc, stack)}

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        major = str(svc.options["version"]).split(".")[0]
        return (Wanted(
            names=("initdb", "postgres"), what="PostgreSQL server (initdb, postgres)",
            apt=f"postgresql-{major}", brew=f"postgresql@{major}", pip="pgserver",
            dirs=PG_BIN_DIRS, pip_dirs=PG_PIP_DIRS, option="bin_dir",
            version_of="postgres", versions=f"=={major}",
            elsewhere="PostgreSQL's own apt repository has every supported major: https://wiki.postgresql.org/wiki/Apt"),)

    def native(self, svc, stack, host):
        import signal

        from devstack.services.spec import InitStep, NativeSpec, short_dir

        wanted = self.wanted(svc)[0]
        bin_dir = host.find_dir(wanted, svc.options["bin_dir"], prefer_version=svc.options["version"])
        version_text = server_version_text(bin_dir)
        major = server_major(bin_dir, version_text)
        # PostgreSQL refuses to run as root: when devstack is root it runs as the
        # `postgres` account (or nobody), with its data where that user can reach it.
        user = host.run_as("postgres")
        placed = host.data_dir(svc, stack, user)
        data = placed.path
        if (data / "PG_VERSION").exists():
            made_by = (data / "PG_VERSION").read_text().strip()
            if major and made_by != major:
                raise UserError(f"{svc.name}: the data dir was made by PostgreSQL {made_by}, but {bin_dir} is PostgreSQL {major}",
                                f"set `bin_dir:` to a PostgreSQL {made_by} bin dir, or `devstack down --volumes` to start over (deletes the data)")
        sockets = short_dir(data)  # unix socket paths are limited to ~107 bytes
        psql = bin_dir / "psql" if os.access(bin_dir / "psql", os.X_OK) else host_psql(svc.options["bin_dir"], svc.options["version"])
        o = svc.outputs
        # initdb costs ~1 s; a fresh data dir is a copy of a cluster initdb made
        # once per machine (PostgreSQL build + role name). The password is set
        # over the unix socket on every start (`local trust`: the socket dir is
        # 0700, so only its owner and root reach it), TCP needs the password.
        cache = host.cache_dir(user) / "postgres"
        key = hashlib.sha256(f"{bin_dir}|{version_text}|{o['user']}|{INITDB_FLAGS}".encode()).hexdigest()[:12]
        template = cache / f"{major or 'x'}-{key}"
        initdb = InitStep(
            ["sh", "-c", INIT_FROM_TEMPLATE, "devstack-initdb", str(bin_dir / "initdb"), str(template), str(data), o["user"], INITDB_FLAGS],
            creates=data / "PG_VERSION", description="new data dir", reset_on_failure=data,
            display=f"copy of {template} (made once with `initdb -U {o['user']} {INITDB_FLAGS}`)")
        argv = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(svc.ports["port"]),
                "-c", f"listen_addresses={svc.host}", "-c", f"unix_socket_directories={sockets}",
                "-c", "logging_collector=off", "-c", "log_destination=stderr", *DEV_DURABILITY]
        return NativeSpec(
            argv=argv,
            implementation=f"postgres {major or '?'} ({bin_dir})",
            version=server_version(version_text),
            env={"LC_ALL": "C", "LANG": "C"},
            user=user,
            cwd=data,
            data=placed,
            dirs=[sockets, cache],
            init=[initdb],
            bootstrap=lambda: bootstrap(o, sockets, psql),
            stop_signal=signal.SIGINT,  # fast shutdown (SIGTERM would wait for clients to leave)
            stale_pidfiles=[data / "postmaster.pid", sockets / f".s.PGSQL.{svc.ports['port']}.lock"],
            scratch=[sockets],
            hint="if its data dir is broken (or from another PostgreSQL version), `devstack down --volumes` starts over (deletes the data)",
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        psql = host_psql(svc.options["bin_dir"], svc.options["version"])  # first: a warm-up run caches it
        # Cheap while the server boots; the login and query below are the proof.
        probes.pg_accepting(o["host"], o["port"], o["user"], o["database"])
        if psql is not None:
            psql_select_1(psql, o)
            return
        import psycopg

        try:
            with psycopg.connect(host=o["host"], port=o["port"], user=o["user"], password=o["password"],
                                 dbname=o["database"], connect_timeout=2) as conn:
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            raise NotReady(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None


PG_BIN_DIRS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql@*/bin",
               "/usr/local/opt/postgresql@*/bin", "/Applications/Postgres.app/Contents/Versions/*/bin")
PG_PIP_DIRS = (("pgserver", "pginstall/bin"),)
# A local dev server needs no durability against power loss or an OS crash, only
# against its processes being killed (they may be, at any instant): fsync=off
# keeps every write in the kernel's page cache, which outlives the processes.
# Commits still write their WAL before they answer (synchronous_commit stays
# on) and torn pages stay repairable (full_page_writes stays on), so `kill -9`
# of the server loses no committed transaction. What it buys: `seed --reset`
# (CREATE DATABASE ... FILE_COPY) and every COMMIT skip waiting for the disk.
DEV_DURABILITY = ("-c", "fsync=off")
INITDB_FLAGS = "--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync"
# $1 initdb, $2 cached cluster, $3 data dir, $4 superuser, $5 initdb flags. Run as
# the server's user. Two projects making the cache at once: one rename wins.
# The copy is ~1000 files, and creating files is what a cold start waits for:
# one `cp -a` per database directory and per other entry, all at once, is 3-5x
# faster than one cp on the same disk (file creation in one directory is
# serialized; in several it overlaps). PG_VERSION, what says "done" (the
# step's `creates`), is copied last: a killed copy is redone, never half used.
INIT_FROM_TEMPLATE = """set -e
if [ ! -f "$2/PG_VERSION" ]; then
  tmp="$2.tmp.$$"
  rm -rf "$tmp"
  "$1" -D "$tmp" -U "$4" $5
  mv "$tmp" "$2" 2>/dev/null || rm -rf "$tmp"
fi
pids=""
for entry in "$2"/*; do
  case "${entry##*/}" in
    PG_VERSION) ;;
    base) mkdir -p "$3/base"
          for db in "$entry"/*; do cp -a "$db" "$3/base/" & pids="$pids $!"; done ;;
    *) cp -a "$entry" "$3/" & pids="$pids $!" ;;
  esac
done
for pid in $pids; do wait "$pid"; done
cp -a "$2/PG_VERSION" "$3/"
echo "devstack: data dir made from the cached cluster $2"
"""


def server_version_text(bin_dir) -> str:
    import subprocess

    try:
        return subprocess.run([str(bin_dir / "postgres"), "--version"], check=False, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def server_version(text: str) -> str:
    """"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"; "" if none."""
    match = re.search(r"\d+(?:\.\d+)*", text)
    return match.group(0) if match else ""


def server_major(bin_dir, text: str | None = None) -> str:
    """Major version of the postgres binary in bin_dir ("15"), "" if unknown."""
    match = re.search(r"(\d+)(?:\.\d+)?", text if text is not None else server_version_text(bin_dir))
    return match.group(1) if match else ""


@functools.cache
def host_psql(bin_dir: str | None, version) -> Path | None:
    """psql on this machine, if any: it does the set-up and readiness queries, as
    psycopg costs every `up` ~0.25 s of CPU to import, competing with the servers.
    (A client for the probe, under both runtimes: looked up with devstack.programs.)"""
    from devstack import programs

    if bin_dir:
        path = Path(bin_dir).expanduser() / "psql"
        return path if programs.executable(path) else None
    found = programs.dir_holding(("psql",), programs.search_dirs(PG_BIN_DIRS, PG_PIP_DIRS), version)
    return found / "psql" if found else None


# Databases an older devstack left blocked (killed mid-seed) are opened again.
BOOTSTRAP_SQL = """\
ALTER ROLE {role} WITH PASSWORD {password};
SELECT format('CREATE DATABASE %I', name) FROM unnest(ARRAY[{databases}]::text[]) AS name
 WHERE name NOT IN (SELECT datname FROM pg_database)
\\gexec
SELECT format('ALTER DATABASE %I WITH ALLOW_CONNECTIONS true', datname) FROM pg_database
 WHERE datname = ANY(ARRAY[{databases}]::text[]) AND NOT datallowconn
\\gexec
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def conninfo(**params) -> str:
    """libpq's key='value' form, quoted."""
    return " ".join(f"{k}='" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for k, v in params.items())


def run_psql(psql, conninfo: str, password: str, sql: str) -> str:
    """SQL through psql on stdin (secrets never in argv); NotReady while it cannot connect."""
    import subprocess

    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "2", "LC_ALL": "C"}
    try:
        done = subprocess.run([str(psql), "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
                              input=sql, capture_output=True, text=True, env=env, timeout=30)
    except subprocess.TimeoutExpired:
        raise NotReady("psql did not answer within 30 s") from None
    first = (done.stderr.strip().splitlines() or [f"psql exit code {done.returncode}"])[0]
    if done.returncode == 2:  # psql: "the connection to the server went bad"
        raise NotReady(first)
    if done.returncode != 0:
        raise RuntimeError(first)
    return done.stdout


def psql_select_1(psql, o) -> None:
    """Readiness: a login over TCP with the app's credentials and a query."""
    target = conninfo(host=o["host"], port=o["port"], user=o["user"], dbname=o["database"])
    if run_psql(psql, target, o["password"], "SELECT 1;").strip() != "1":
        raise NotReady("SELECT 1 did not answer 1")


def bootstrap(o, sockets, psql=None) -> None:
    """Over the unix socket, once the server answers: the role's password and the
    app's database(s) (idempotent, every start)."""
    if psql is not None:
        sql = BOOTSTRAP_SQL.format(role=_identifier(o["user"]), password=_literal(o["password"]),
                                   databases=", ".join(_literal(d) for d in o["databases"]) or "NULL")
        run_psql(psql, conninfo(host=sockets, port=o["port"], user=o["user"], dbname="postgres"), o["password"], sql)
        return
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(host=str(sockets), port=o["port"], user=o["user"], password=o["password"],
                               dbname="postgres", connect_timeout=2, autocommit=True)
    except psycopg.OperationalError as exc:
        raise NotReady(str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer") from None
    with conn:
        conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(o["user"]), sql.Literal(o["password"])))
        existing = dict(conn.execute("SELECT datname, datallowconn FROM pg_database").fetchall())
        for name in o["databases"]:
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            elif existing[name] is False:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
