"""MariaDB, and MySQL as the same kind on the MySQL image: the official images in
Docker, the host's mariadbd (Debian: mariadb-server) natively."""

from __future__ import annotations

import hashlib
import re

from devstack.services.base import Kind, NotReady, Option, Port, url_quote, version_problems

# Database names: what every client and ORM quotes without trouble. MySQL allows
# 64 characters; the seed's databases beside the app's one need the rest.
NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,48}$")
USER_MAX = 32  # MySQL's limit (MariaDB allows 80): the same manifest works on both


def db_name(project: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", project.lower())[:48] or "app"


def sql_string(text: str) -> str:
    """A MySQL string literal (backslashes are escapes unless NO_BACKSLASH_ESCAPES)."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "''") + "'"


def sql_ident(text: str) -> str:
    return "`" + str(text).replace("`", "``") + "`"


class Mariadb(Kind):
    name = "mariadb"
    seeder = "devstack.seed.mariadb"
    seed_spec = "devstack.seed.specs:MariadbSpec"
    summary = "MariaDB database (MySQL-compatible)"
    flavour = "MariaDB"
    image_name = "mariadb"
    options = {
        "version": Option((str, int), "11.4", "version; picks the image tag mariadb:<version>"),
        "image": Option(str, None, "image to run instead of mariadb:<version>"),
        "user": Option(str, "app", "user the app connects as (all privileges on `database`)"),
        "password": Option(str, None, "password of `user`; generated when unset", generate="password"),
        "root_password": Option(str, None, "password of root (over TCP); generated when unset", generate="password"),
        "database": Option(str, None, "database the app uses; defaults to the project name"),
        "bin": Option(str, None, "path of mariadbd (or a directory holding it) for the native runtime"),
        "migrate": Option(str, None, "command run before SQL fixtures, with the app's env (e.g. `php artisan migrate --force`)", multiline=True),
    }
    ports = {"port": Port(3306)}
    # DATABASE_URL: Prisma, Django (dj-database-url), Node's mysql2, SQLAlchemy
    # after a scheme swap. DB_*: what Laravel's config/database.php reads.
    default_env = {
        "DATABASE_URL": "{{ url }}",
        "DB_CONNECTION": "mysql",
        "DB_HOST": "{{ host }}",
        "DB_PORT": "{{ port }}",
        "DB_DATABASE": "{{ database }}",
        "DB_USERNAME": "{{ user }}",
        "DB_PASSWORD": "{{ password }}",
    }
    output_help = {
        "url": "mysql://user:password@host:port/database, what DATABASE_URL carries",
        "host": "address the server listens on (127.0.0.1)",
        "port": "TCP port of the server",
        "user": "user the app connects as",
        "password": "that user's password",
        "root_password": "root's password (root@% in Docker, root@127.0.0.1 natively)",
        "database": "the app's database",
    }
    secret_outputs = ("password", "root_password")
    docker = ("mariadb:<version>, the official image (or `image:`); MARIADB_* env, its healthcheck.sh, "
              "data in a named volume")
    native_binary = ("the host's mariadbd + mariadb-install-db (Debian: apt-get install mariadb-server); "
                     "as the `mysql` user when devstack runs as root")

    def image(self, svc):
        return svc.options["image"] or f"{self.image_name}:{svc.options['version']}"

    def database(self, svc, stack) -> str:
        return svc.options["database"] or db_name(stack.project)

    def outputs(self, svc, stack):
        o = svc.options
        database = self.database(svc, stack)
        return {
            "url": f"mysql://{url_quote(o['user'])}:{url_quote(o['password'])}@{svc.host}:{svc.ports['port']}/{database}",
            "host": svc.host,
            "port": svc.ports["port"],
            "user": o["user"],
            "password": o["password"],
            "root_password": o["root_password"],
            "database": database,
        }

    def external_outputs(self, svc):
        return {**super().external_outputs(svc), "root_password": ""}

    def check(self, options):
        problems = version_problems(self, options)
        database = options.get("database")
        if database is not None and not NAME_RE.match(database):
            problems.append(("database", f"invalid database name {database!r}: letters, digits and _, at most 48"))
        user = options["user"]
        if not user or len(user) > USER_MAX or not re.match(r"^[A-Za-z0-9_.-]+$", user) or user == "root":
            problems.append(("user", f"invalid user {user!r}: letters, digits, `_.-`, at most {USER_MAX}, not root"))
        for key in ("password", "root_password"):
            value = options.get(key)
            if value is not None and (not value or "'" in value or "\\" in value):
                # the mysql image's entrypoint puts it into SQL between quotes, unescaped
                problems.append((key, "must be non-empty, without ' or \\ (the official images' set-up puts it in SQL as is)"))
        return problems

    def compose_context(self, svc, stack):
        return {"database": self.database(svc, stack)}

    # -- native ----------------------------------------------------------------
    def wanted(self, svc):
        from devstack.services.spec import Wanted

        # Any MariaDB: `version:` picks the image; natively the mysql kind runs MariaDB too.
        return (Wanted(names=("mariadbd", "mysqld"), what="MariaDB server (mariadbd)", apt="mariadb-server", brew="mariadb",
                       dirs=("/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin"),
                       elsewhere="MariaDB's own repositories: https://mariadb.org/download/?t=repo-config"),
                Wanted(names=("mariadb-install-db", "mysql_install_db"), what="mariadb-install-db (comes with the server)",
                       apt="mariadb-server", brew="mariadb", dirs=("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"),
                       version_args=()))

    def native(self, svc, stack, host):
        import dataclasses
        import signal

        from devstack.services.spec import FileSpec, InitStep, NativeSpec, short_dir

        server_wanted, install_wanted = self.wanted(svc)
        server = host.find(server_wanted, svc.options["bin"])
        install = host.find(dataclasses.replace(install_wanted, dirs=(*install_wanted.dirs, str(_sibling_bin(server)))))
        version = server_version(server)
        # mariadbd refuses to run as root without --user: when devstack is root it
        # runs as the `mysql` account, with its data where that account reaches it.
        user = host.run_as("mysql")
        placed = host.data_dir(svc, stack, user)
        datadir = placed.path / "db"
        sockets = short_dir(placed.path)  # unix socket paths are limited to ~107 bytes
        init_file = placed.path / "init.sql"
        # mariadb-install-db costs ~2 s: a new datadir is a copy of one it made once
        # per machine (server build + flags).
        cache = host.cache_dir(user) / "mariadb"
        key = hashlib.sha256(f"{server}|{version}|{install}|{INSTALL_FLAGS}".encode()).hexdigest()[:12]
        template = cache / f"{re.sub(r'[^0-9.]', '', version)[:12] or 'x'}-{key}"
        first_run = InitStep(
            ["sh", "-c", INIT_FROM_TEMPLATE, "devstack-mariadb-install-db", install, str(template), str(datadir), INSTALL_FLAGS],
            creates=datadir / "mysql", description="new data dir", reset_on_failure=datadir,
            display=f"copy of {template} (made once with `mariadb-install-db {INSTALL_FLAGS}`)")
        argv = [server, "--no-defaults", f"--datadir={datadir}", f"--socket={sockets / 'mysqld.sock'}",
                f"--port={svc.ports['port']}", f"--bind-address={svc.host}", f"--pid-file={datadir / 'mariadbd.pid'}",
                f"--init-file={init_file}", *SERVER_FLAGS]
        return NativeSpec(
            argv=argv,
            implementation=f"mariadbd {version or '?'} ({server})" + ("" if self.flavour == "MariaDB" else f", standing in for {self.flavour}"),
            version=version,
            env={"LC_ALL": "C", "LANG": "C"},
            user=user,
            cwd=placed.path,
            data=placed,
            dirs=[datadir, sockets, cache],
            # Run by the server at every start, before it accepts connections: the
            # database, the users and their current passwords (idempotent).
            files=[FileSpec(init_file, init_sql(svc.outputs), 0o600, owned_by_user=True)],
            init=[first_run],
            stop_signal=signal.SIGTERM,
            stale_pidfiles=[datadir / "mariadbd.pid"],
            scratch=[sockets],
            hint="if its data dir is broken, `devstack down --volumes` starts over (deletes the data)",
        )

    def ready(self, svc, stack):
        o = svc.outputs
        login(o["host"], o["port"], o["user"], o["password"], o["database"], "SELECT 1")


class Mysql(Mariadb):
    name = "mysql"
    summary = "MySQL database (natively: MariaDB, wire-compatible)"
    flavour = "MySQL"
    image_name = "mysql"
    options = {
        **Mariadb.options,
        "version": Option((str, int), "8.4", "version; picks the image tag mysql:<version>"),
        "image": Option(str, None, "image to run instead of mysql:<version>"),
    }
    docker = "mysql:<version>, the official image (or `image:`); MYSQL_* env, mysqladmin ping, data in a named volume"
    native_binary = ("the host's mariadbd (Debian has no MySQL server: apt-get install mariadb-server); "
                     "as the `mysql` user when devstack runs as root")


# -- the native server's setup ------------------------------------------------------

INSTALL_FLAGS = "--auth-root-authentication-method=socket --skip-test-db --innodb-log-file-size=16M"
SERVER_FLAGS = [
    "--skip-name-resolve",
    "--innodb-log-file-size=16M",  # the default 96 MB file is most of a new datadir
    "--character-set-server=utf8mb4",  # the official images' default; --no-defaults would give latin1
    "--collation-server=utf8mb4_unicode_ci",
    "--log-error=",  # to stderr: the service's log
]
# $1 mariadb-install-db, $2 cached datadir, $3 datadir, $4 flags. Run as the server's
# user. Two projects making the cache at once: one rename wins.
INIT_FROM_TEMPLATE = """set -e
if [ ! -d "$2/mysql" ]; then
  tmp="$2.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  "$1" --no-defaults --datadir="$tmp" $4 >/dev/null
  mv "$tmp" "$2" 2>/dev/null || rm -rf "$tmp"
fi
cp -a "$2/." "$3/"
echo "devstack: data dir made from the cached one in $2"
"""


def _sibling_bin(server: str):
    from pathlib import Path

    return Path(server).resolve().parent.parent / "bin"


def server_version(server: str) -> str:
    import subprocess

    try:
        text = subprocess.run([server, "--version"], check=False, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"Ver\s+(\d+(?:\.\d+)*)", text)
    return match.group(1) if match else ""


def init_sql(o) -> str:
    """What the server runs at each start (--init-file): the app's database, its
    user with all privileges on it, root over TCP; passwords as configured now."""
    user, root = sql_string(o["user"]), sql_string("root")
    password, root_password = sql_string(o["password"]), sql_string(o["root_password"])
    return "\n".join([
        f"CREATE DATABASE IF NOT EXISTS {sql_ident(o['database'])};",
        f"CREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY {password};",
        f"ALTER USER {user}@'%' IDENTIFIED BY {password};",
        f"GRANT ALL PRIVILEGES ON {sql_ident(o['database'])}.* TO {user}@'%';",
        f"CREATE USER IF NOT EXISTS {root}@'127.0.0.1' IDENTIFIED BY {root_password};",
        f"ALTER USER {root}@'127.0.0.1' IDENTIFIED BY {root_password};",
        f"GRANT ALL PRIVILEGES ON *.* TO {root}@'127.0.0.1' WITH GRANT OPTION;",
        "",
    ])


def greeting(host: str, port: int) -> None:
    """Cheap while the server boots: it sends its handshake first, on connect."""
    import socket

    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            sock.settimeout(2)
            head = sock.recv(5)
    except OSError as exc:
        raise NotReady(f"no connection ({exc.strerror or exc})") from None
    if len(head) < 5:
        raise NotReady("no handshake yet")
    if head[4] == 0xFF:  # an error packet instead of a handshake (too many connections...)
        raise NotReady("the server refused the connection")


def login(host, port, user, password, database, query: str) -> None:
    """Readiness: a login with the app's credentials and a query (PyMySQL)."""
    import pymysql  # first: a warm-up run against a dead address pays the import

    greeting(host, port)
    try:
        conn = pymysql.connect(host=host, port=int(port), user=user, password=password, database=database,
                               connect_timeout=3, read_timeout=5)
    except pymysql.MySQLError as exc:
        raise NotReady(_error_text(exc)) from None
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            if cur.fetchone() != (1,):
                raise NotReady(f"{query} did not answer 1")
    except pymysql.MySQLError as exc:
        raise NotReady(_error_text(exc)) from None
    finally:
        conn.close()


def _error_text(exc) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return f"{args[1]} ({args[0]})"
    return str(exc) or type(exc).__name__
