"""What the SQL seeders (postgres, mariadb) share: the app's migration command run
against the database being built, fixture errors located by file and line, the
table a CSV file loads into."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from devstack.seed.base import Fixture, SeedError


def table_for(path: Path) -> str:
    """`users.csv` -> users; `02_users.csv` -> users; `billing.invoices.tsv` -> billing.invoices."""
    stem = path.stem
    return re.sub(r"^\d+[-_.]", "", stem) or stem


class SqlFixtures:
    """Mixed into a Seeder: needs self.name, self.svc, self.plan, self.progress, self.say."""

    def extra(self) -> dict:
        """Beside the fixtures, what a reseed depends on: the migration and the database's name."""
        return {"migrate": self.svc.options.get("migrate") or "", "database": self.database}

    @property
    def database(self) -> str:
        return str(self.svc.outputs["database"])

    def migrate(self, command: str, database: str) -> None:
        """The app's migration command, with the app's env pointing at `database`
        (the one being built), the same way it points at the app's own."""
        t0 = time.monotonic()
        env = {**os.environ, **{k: str(v) for k, v in self.plan.env_with({self.name: {"database": database}}).items()}}
        proc = subprocess.run(command, shell=True, cwd=self.plan.root, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if proc.returncode != 0:
            for line in proc.stdout.strip().splitlines()[-15:]:
                self.progress(f"  | {line}")
            raise SeedError(f"{self.name}: migration command failed (exit {proc.returncode}): {command}",
                            "its output is above; the database was left as it was", intact=True)
        self.say(f"migrated ({command}) in {time.monotonic() - t0:.1f}s")

    def load_fixtures(self, db: str, fixtures: list[Fixture]) -> list[str]:
        """Every fixture into `db` in one session: .sql files run, data files load
        into their table (the seeder's load_table). Returns one summary per file."""
        counts = []
        with self.load_session(db) as conn:
            for fx in fixtures:
                if fx.suffix == ".sql":
                    n = self.run_sql(conn, fx)
                    counts.append(f"{fx.path.name} ({n} statement{'' if n == 1 else 's'})")
                else:
                    rows, table = self.load_table(conn, fx)
                    counts.append(f"{table} {rows} row{'' if rows == 1 else 's'}")
            self.after_load(conn)
        return counts

    def after_load(self, conn) -> None:
        """What a seeder does once every fixture is in (PostgreSQL: sequences past the loaded ids)."""

    def fail(self, fx: Fixture, line: int | None, message: str) -> SeedError:
        where = f"{fx.rel}:{line}" if line else fx.rel
        return SeedError(f"{self.name}: {where}: {message}", "fix the fixture and run `devstack seed` again; the database was left as it was", intact=True)

    def read_text(self, fx: Fixture) -> str:
        try:
            return fx.path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise self.fail(fx, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
