"""PostgreSQL: the official image in Docker, host initdb/postgres natively."""

from __future__ import annotations

import re

from devstack.services.base import Kind, NotReady, Option, Port, url_quote


def db_name(project: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", project.lower()) or "app"


class Postgres(Kind):
    name = "postgres"
    summary = "PostgreSQL database"
    options = {
        "version": Option((str, int), "15", "major version; picks the image tag postgres:<version>"),
        "image": Option(str, None, "image to run instead of postgres:<version>"),
        "user": Option(str, "app", "role the app connects as (superuser of this local server)"),
        "password": Option(str, None, "password of `user`; generated when unset", generate="password"),
        "database": Option(str, None, "database the app uses; defaults to the project name"),
        "databases": Option(list, [], "extra databases to create beside `database`"),
        "bin_dir": Option(str, None, "directory holding initdb/postgres for the native runtime"),
        "migrate": Option(str, None, "command run before SQL fixtures, with the app's env (e.g. `npx prisma migrate deploy`)"),
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

    def ready(self, svc, stack):
        import psycopg

        o = svc.outputs
        try:
            with psycopg.connect(host=o["host"], port=o["port"], user=o["user"], password=o["password"],
                                 dbname=o["database"], connect_timeout=2) as conn:
                conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            raise NotReady(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
