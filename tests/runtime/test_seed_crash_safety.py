"""A killed seed or reset never leaves a database the app cannot use.

`devstack seed` and `devstack seed --reset` are SIGKILLed at points spread over
their whole run. Right after each kill the app's database must exist and accept
connections, holding either the state before or the state after; the next
command finishes or rolls back what the killed one began.
"""

from __future__ import annotations

import os
import signal
import time

import psycopg

from tests.runtime.conftest import needs_servers

pytestmark = needs_servers

ROWS = 150_000
MANIFEST = "project: crashy\nservices:\n  db:\n    kind: postgres\n    seed: [seed/schema.sql, seed/items.csv]\n"


def write_items(stack, rows: int) -> None:
    seed = stack.root / "seed"
    seed.mkdir(exist_ok=True)
    (seed / "schema.sql").write_text("CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);\n")
    with open(seed / "items.csv", "w") as out:
        out.write("id,label\n")
        out.writelines(f"{i},item number {i}\n" for i in range(1, rows + 1))


def connect(stack):
    env = dict(line.split("=", 1) for line in (stack.root / ".env").read_text().splitlines() if "=" in line and not line.startswith("#"))
    return psycopg.connect(env["DATABASE_URL"].strip('"'), connect_timeout=5, autocommit=True)


def rows(stack) -> int:
    with connect(stack) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def leftovers(stack, wait: float = 10.0) -> list[str]:
    """Databases beside the app's one. A reset drops the one it put aside without
    waiting for the server to finish: give that drop `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        with connect(stack) as conn:
            found = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE '%\\_\\_devstack\\_%'")]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def kill_after(stack, delay: float, *args) -> float:
    """Start `devstack <args>`, SIGKILL it after `delay` s; returns how long it ran."""
    proc = stack.popen(*args)
    t0 = time.monotonic()
    try:
        proc.wait(timeout=delay)
    except Exception:  # noqa: BLE001 - still running: that is the point
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return time.monotonic() - t0


def timed(stack, *args) -> float:
    t0 = time.monotonic()
    stack.cli(*args)
    return time.monotonic() - t0


def test_a_killed_seed_or_reset_leaves_a_usable_database_at_every_point(native_stack):
    stack = native_stack(MANIFEST)
    write_items(stack, ROWS)
    stack.cli("up")
    assert rows(stack) == ROWS
    write_items(stack, ROWS + 1)  # a changed fixture: `seed` rebuilds the database
    full = timed(stack, "seed")
    assert rows(stack) == ROWS + 1
    points = 12
    counts = {ROWS, ROWS + 1}
    for i in range(points):
        size = ROWS + (i % 2)  # alternate, so each seed has something to change
        write_items(stack, size)
        kill_after(stack, full * (i + 0.5) / points, "seed")
        # Right after the kill: the database answers, with the old or the new rows.
        assert rows(stack) in counts, f"kill point {i}"
        result = stack.cli("seed")  # finishes or rolls back, then seeds
        assert rows(stack) == size, (i, result.stderr)
        assert leftovers(stack) == [], i

    with connect(stack) as conn:  # the app's writes, which a reset throws away
        conn.execute("DELETE FROM items WHERE id > 100")
    reset = timed(stack, "seed", "--reset")
    seeded = rows(stack)
    for i in range(points):
        with connect(stack) as conn:
            conn.execute("DELETE FROM items WHERE id > 100")
        kill_after(stack, reset * (i + 0.5) / points, "seed", "--reset")
        assert rows(stack) in (100, seeded), f"reset kill point {i}"
        stack.cli("seed", "--reset")
        assert rows(stack) == seeded
        assert leftovers(stack) == [], i

    # A kill mid-seed, then the whole stack restarted: `up` must not wait on a blocked database.
    write_items(stack, ROWS)
    kill_after(stack, full / 2, "seed")
    stack.cli("down")
    t0 = time.monotonic()
    stack.cli("up")
    assert time.monotonic() - t0 < 30
    assert rows(stack) in counts
    stack.cli("seed")
    assert rows(stack) == ROWS and leftovers(stack) == []


def test_a_database_blocked_by_an_older_devstack_opens_again_on_up(native_stack):
    stack = native_stack(MANIFEST)
    write_items(stack, 10)
    stack.cli("up")
    # What an older devstack killed mid-seed left: the database before the seed
    # aside (`__devstack_prev`), a half-loaded one under the app's name, blocked.
    url = (stack.root / ".env").read_text().split("DATABASE_URL=")[1].split("\n")[0].strip('"')
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE crashy__devstack_prev TEMPLATE crashy")
    with connect(stack) as conn:
        conn.execute("DELETE FROM items")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("ALTER DATABASE crashy WITH ALLOW_CONNECTIONS false")
    stack.cli("down")
    stack.cli("up")  # opens it again (bootstrap), then the seed's repair rolls back to the older database
    assert rows(stack) == 10
    assert leftovers(stack) == []


def test_down_volumes_forgets_the_seed_state_and_up_seeds_afresh(native_stack):
    stack = native_stack(MANIFEST)
    write_items(stack, 10)
    stack.cli("up")
    assert (stack.state / "seed").exists()
    stack.cli("down", "--volumes")
    assert not (stack.state / "seed").exists()
    result = stack.cli("up")
    assert "items 10 rows" in result.stderr and rows(stack) == 10
