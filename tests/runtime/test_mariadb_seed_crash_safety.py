"""A killed mariadb seed or reset never leaves the app's database missing or half-made.

`devstack seed` and `devstack seed --reset` are SIGKILLed at points spread over
their whole run. Right after each kill the app's database must answer with the
state before or after; the next command ends what the killed one left running
in the server, drops its leftovers and finishes.
"""

from __future__ import annotations

import shutil
import time

import pymysql
import pytest

from tests.runtime.test_seed_crash_safety import kill_after, timed

pytestmark = pytest.mark.skipif(not shutil.which("mariadbd", path="/usr/sbin:/usr/bin:/usr/local/bin"),
                                reason="needs mariadb-server (apt-get install mariadb-server)")

ROWS = 60_000
MANIFEST = "project: crashmy\nservices:\n  db:\n    kind: mariadb\n    seed: [seed/schema.sql, seed/items.csv]\n"


def write_items(stack, rows: int) -> None:
    seed = stack.root / "seed"
    seed.mkdir(exist_ok=True)
    (seed / "schema.sql").write_text("CREATE TABLE items (id int PRIMARY KEY, label varchar(64) NOT NULL);\n")
    with open(seed / "items.csv", "w") as out:
        out.write("id,label\n")
        out.writelines(f"{i},item number {i}\n" for i in range(1, rows + 1))


def connect(stack, root: bool = False):
    o = stack.outputs()["db"]
    return pymysql.connect(host=o["host"], port=int(o["port"]), user="root" if root else o["user"],
                           password=o["root_password"] if root else o["password"],
                           database=None if root else o["database"], autocommit=True, connect_timeout=5)


def rows(stack) -> int:
    with connect(stack) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM items")
        return cur.fetchone()[0]


def leftovers(stack) -> list[str]:
    with connect(stack, root=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'crashmy\\_\\_devstack\\_%' "
                    "AND SCHEMA_NAME <> 'crashmy__devstack_seeded'")
        return [r[0] for r in cur.fetchall()]


def test_a_killed_seed_or_reset_leaves_a_usable_database_at_every_point(native_stack):
    stack = native_stack(MANIFEST, name="crashmy")
    write_items(stack, ROWS)
    stack.cli("up")
    assert rows(stack) == ROWS
    write_items(stack, ROWS + 1)
    full = timed(stack, "seed")
    assert rows(stack) == ROWS + 1
    points = 8
    for i in range(points):
        size = ROWS + (i % 2)
        write_items(stack, size)
        kill_after(stack, full * (i + 0.5) / points, "seed")
        assert rows(stack) in (ROWS, ROWS + 1), f"kill point {i}"
        result = stack.cli("seed")
        assert rows(stack) == size, (i, result.stderr)
        assert leftovers(stack) == [], i

    reset = timed(stack, "seed", "--reset")
    seeded = rows(stack)
    for i in range(points):
        with connect(stack) as conn, conn.cursor() as cur:  # the app's writes, which a reset throws away
            cur.execute("DELETE FROM items WHERE id > 100")
        kill_after(stack, reset * (i + 0.5) / points, "seed", "--reset")
        assert rows(stack) in (100, seeded), f"reset kill point {i}"
        stack.cli("seed", "--reset")
        assert rows(stack) == seeded
        assert leftovers(stack) == [], i

    # A kill mid-seed, then the whole stack restarted.
    write_items(stack, ROWS)
    kill_after(stack, full / 2, "seed")
    stack.cli("down")
    t0 = time.monotonic()
    stack.cli("up")
    assert time.monotonic() - t0 < 60
    assert rows(stack) in (ROWS, ROWS + 1)
    stack.cli("seed")
    assert rows(stack) == ROWS and leftovers(stack) == []
