"""The emulator's state: one SQLite file, every API call one transaction.

An object is a JSON document stored whole under its id, so a crash mid-call
leaves the previous state (SQLite's journal), never half an object. Fields
whose names start with `_` are the emulator's own (a card's test behaviour, a
webhook endpoint's secret) and are never returned by the API.

Tables: objects (every Stripe object, events included, ordered by `seq` for
lists), deliveries + attempts (webhook sends), idempotency (replayed
responses), meta (clock offset, the account's API version).
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import string
import time
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, type TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS objects_by_type ON objects (type, seq);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY, event TEXT NOT NULL, endpoint TEXT NOT NULL, url TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries (event);
CREATE TABLE IF NOT EXISTS attempts (
  delivery INTEGER NOT NULL, at REAL NOT NULL, status INTEGER, error TEXT, excerpt TEXT, seconds REAL);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (delivery);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

ALPHABET = string.ascii_letters + string.digits
IDEMPOTENCY_TTL = 24 * 3600  # Stripe keeps keys for at least 24 hours


def new_id(prefix: str, length: int = 24) -> str:
    """Stripe-shaped ids: prefix_ + random letters and digits (cus_..., pi_..., cs_test_...)."""
    return f"{prefix}_" + "".join(secrets.choice(ALPHABET) for _ in range(length))


class Store:
    def __init__(self, state_dir: str):
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        os.chmod(state_dir, 0o700)
        path = os.path.join(state_dir, "stripe.sqlite3")
        # Created 0600 before SQLite opens it; its journal files copy the mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a call that answered is on disk
        self.db.executescript(SCHEMA)
        self._depth = 0
        self._seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM objects").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self):
        """All writes inside are committed together or not at all (nested: joins the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        seq = self._seq
        try:
            yield self
        except BaseException:
            self.db.execute("ROLLBACK")
            self._seq = seq
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # -- objects ------------------------------------------------------------------
    def get(self, id_: str, type_: str | None = None) -> dict | None:
        row = self.db.execute("SELECT type, data FROM objects WHERE id = ?", (id_,)).fetchone()
        if row is None or (type_ is not None and row[0] != type_):
            return None
        return json.loads(row[1])

    def put(self, obj: dict) -> dict:
        """Insert or replace the whole object (its list position is kept on replace)."""
        data = json.dumps(obj, separators=(",", ":"))
        cur = self.db.execute("UPDATE objects SET data = ? WHERE id = ?", (data, obj["id"]))
        if cur.rowcount == 0:
            self._seq += 1
            self.db.execute("INSERT INTO objects (id, type, seq, data) VALUES (?, ?, ?, ?)",
                            (obj["id"], obj["object"], self._seq, data))
        return obj

    def delete(self, id_: str) -> None:
        self.db.execute("DELETE FROM objects WHERE id = ?", (id_,))

    def all(self, type_: str, newest_first: bool = True) -> list[dict]:
        order = "DESC" if newest_first else "ASC"
        rows = self.db.execute(f"SELECT data FROM objects WHERE type = ? ORDER BY seq {order}", (type_,))
        return [json.loads(r[0]) for r in rows]

    def find(self, type_: str, **equal) -> list[dict]:
        """Objects of a type whose top-level fields equal the given values (newest first)."""
        return [o for o in self.all(type_) if all(o.get(k) == v for k, v in equal.items())]

    # -- meta ---------------------------------------------------------------------
    def meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value)))

    # -- idempotency --------------------------------------------------------------
    def idempotent(self, key: str) -> tuple[str, int, str] | None:
        self.db.execute("DELETE FROM idempotency WHERE created < ?", (time.time() - IDEMPOTENCY_TTL,))
        row = self.db.execute("SELECT fingerprint, status, body FROM idempotency WHERE key = ?", (key,)).fetchone()
        return tuple(row) if row else None

    def remember(self, key: str, fingerprint: str, status: int, body: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, created) VALUES (?, ?, ?, ?, ?)",
                        (key, fingerprint, status, body, time.time()))

    # -- webhook deliveries -------------------------------------------------------
    def add_delivery(self, event: str, endpoint: str, url: str, when: float, state: str = "pending") -> int:
        """state `pending`: the deliverer sends it (and retries); `sending`: someone else does (`listen`)."""
        cur = self.db.execute("INSERT INTO deliveries (event, endpoint, url, state, next_at, created) VALUES (?, ?, ?, ?, ?, ?)",
                              (event, endpoint, url, state, when, when))
        return cur.lastrowid

    def due_deliveries(self, now: float) -> list[tuple]:
        return self.db.execute("SELECT id, event, endpoint, url, attempts, created FROM deliveries "
                               "WHERE state = 'pending' AND next_at <= ? ORDER BY id", (now,)).fetchall()

    def next_delivery_at(self) -> float | None:
        return self.db.execute("SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'").fetchone()[0]

    def record_attempt(self, delivery: int, at: float, status: int | None, error: str | None, excerpt: str, seconds: float,
                       state: str, next_at: float | None) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO attempts (delivery, at, status, error, excerpt, seconds) VALUES (?, ?, ?, ?, ?, ?)",
                            (delivery, at, status, error, excerpt, seconds))
            self.db.execute("UPDATE deliveries SET attempts = attempts + 1, state = ?, next_at = ? WHERE id = ?",
                            (state, next_at, delivery))

    def deliveries_of(self, event: str) -> list[dict]:
        rows = self.db.execute("SELECT id, endpoint, url, state, attempts, next_at FROM deliveries WHERE event = ? ORDER BY id",
                               (event,)).fetchall()
        out = []
        for id_, endpoint, url, state, attempts, next_at in rows:
            tries = self.db.execute("SELECT at, status, error, excerpt, seconds FROM attempts WHERE delivery = ? ORDER BY at",
                                    (id_,)).fetchall()
            out.append({"id": id_, "endpoint": endpoint, "url": url, "state": state, "attempts": attempts, "next_attempt_at": next_at,
                        "history": [{"at": a, "status": s, "error": e, "response": x, "seconds": d} for a, s, e, x, d in tries]})
        return out

    def pending_count(self, event: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM deliveries WHERE event = ? AND state = 'pending'", (event,)).fetchone()[0]
