"""What each kind's `seed:` takes, checked without importing its loader.

Every command checks `seed:` with the rest of the manifest (one report of every
mistake), so these checks must not pull in the loaders' imports (psycopg,
urllib.request, thread pools). The seeder classes inherit from these.
"""

from __future__ import annotations

import re

from devstack.seed.base import Fixture, FixtureSpec, SpecContext

TABLE_RE = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")


class PostgresSpec(FixtureSpec):
    extensions = (".sql", ".csv", ".tsv")
    entry_keys = ("file", "table")
    table_re = TABLE_RE
    table_hint = "a name such as users or billing.invoices"

    @classmethod
    def check_entry(cls, ctx: SpecContext, fx: Fixture, sub: tuple) -> None:
        table = fx.options.get("table")
        if table is None:
            return
        if fx.suffix == ".sql":
            ctx.problem(sub + ("table",), "`table:` goes with a .csv or .tsv file, not .sql")
        elif not isinstance(table, str) or not cls.table_re.match(table):
            ctx.problem(sub + ("table",), f"invalid table name {table!r}", cls.table_hint)

    @classmethod
    def wanted(cls, svc, fixtures):
        return bool(fixtures) or bool(svc.options.get("migrate"))


MYSQL_TABLE_RE = re.compile(r"^[A-Za-z_][\w$]{0,63}$")


class MariadbSpec(PostgresSpec):
    """The same entries as postgres: .sql files, .csv/.tsv with an optional `table:`
    (a plain name: fixtures load into the service's database, never another)."""

    table_re = MYSQL_TABLE_RE
    table_hint = "a name such as users (no database prefix)"


class RabbitmqSpec(FixtureSpec):
    extensions = (".yaml", ".yml", ".json")


class RedisSpec(FixtureSpec):
    extensions = (".yaml", ".yml", ".json")


class StripeSpec(FixtureSpec):
    extensions = (".yaml", ".yml", ".json")


class S3Spec(FixtureSpec):
    @classmethod
    def parse(cls, ctx: SpecContext, raw, svc) -> list[Fixture]:
        from devstack.services.minio import BUCKET_NAME

        if raw is None:
            return []
        if not isinstance(raw, dict):
            ctx.problem((), f"expected a mapping of bucket -> directory, got {type(raw).__name__}", "e.g. seed: {avatars: seed/s3/avatars/}")
            return []
        fixtures = []
        for bucket, source in raw.items():
            if not isinstance(bucket, str) or not BUCKET_NAME.match(bucket):
                ctx.problem((bucket,), f"invalid bucket name {ctx.shown(bucket)}", "3-63 lower-case letters, digits, `.` or `-`")
                # go on: the files it names are checked all the same
            sources = source if isinstance(source, list) else [source]
            seen: dict[str, str] = {}
            for i, item in enumerate(sources):
                sub = (bucket, i) if isinstance(source, list) else (bucket,)
                for path, key in ctx.expand(item, sub, None, "object"):
                    if key in seen and seen[key] != ctx.rel(path):
                        ctx.problem(sub, f"object key `{key}` comes from both {seen[key]} and {ctx.rel(path)}")
                    seen[key] = ctx.rel(path)
                    fixtures.append(Fixture(path, ctx.rel(path), {"bucket": bucket, "key": key}))
        return fixtures

    @classmethod
    def wanted(cls, svc, fixtures):
        return bool(fixtures) or bool(svc.options.get("buckets"))
