"""Storage of the S3 stand-in: object bodies as files, an SQLite index.

    <root>/index.sqlite3   buckets, objects (key -> blob, size, ETag, metadata),
                           multipart uploads and their parts
    <root>/blobs/xx/<id>   bodies, never changed once written (a copy is a hard link)
    <root>/tmp/            bodies being received

A body is written to tmp/, fsynced and renamed into blobs/ before the index
row that names it commits, so what a client was told is stored survives a
SIGKILL or a power cut. Keys may hold any character: they never become file
names. SQLite compares text bytewise, which is S3's (UTF-8 binary) key order.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created REAL NOT NULL, region TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, modified REAL NOT NULL, meta TEXT NOT NULL, PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, created REAL NOT NULL, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
  upload TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, PRIMARY KEY (upload, number));
CREATE TABLE IF NOT EXISTS policies (bucket TEXT PRIMARY KEY, policy TEXT NOT NULL);
"""


class StoreError(Exception):
    """An S3 error: its code, HTTP status and message."""

    def __init__(self, code: str, status: int, message: str):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def no_bucket(name: str) -> StoreError:
    return StoreError("NoSuchBucket", 404, f"The specified bucket does not exist: {name}")


@dataclass
class Obj:
    key: str
    blob: str
    size: int
    etag: str  # without quotes
    modified: float
    meta: dict = field(default_factory=dict)  # content-type, cache-control..., "user": {x-amz-meta-*}, "acl"


class Body:
    """A body being received: written to tmp/, hashed as it goes."""

    def __init__(self, store: Store):
        self.store = store
        self.name = uuid.uuid4().hex
        self.path = store.tmp / self.name
        self.file = open(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")  # noqa: SIM115 - closed in finish/discard
        self.md5 = hashlib.md5()  # noqa: S324 - S3's ETag, not security
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.md5.update(data)
        self.sha256.update(data)
        self.size += len(data)

    def content(self) -> bytes:
        """What was received (small bodies: XML requests)."""
        self.file.flush()
        return self.path.read_bytes()

    def finish(self) -> str:
        """Durable in blobs/; returns the blob name."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        target = self.store.blob_path(self.name)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.rename(self.path, target)
        return self.name

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        for path in (self.root, self.blobs, self.tmp):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if path.stat().st_mode & 0o077:  # objects are private: 0600 files in 0700 dirs
                os.chmod(path, 0o700)
        for leftover in self.tmp.iterdir():  # bodies of requests cut short by a crash
            leftover.unlink(missing_ok=True)
        index = self.root / "index.sqlite3"
        if not index.exists():  # SQLite creates it (and its -wal, -shm) 0644 less the umask
            os.close(os.open(index, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(index, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- blobs -------------------------------------------------------------------------
    def blob_path(self, blob: str) -> Path:
        return self.blobs / blob[:2] / blob

    def _drop_blobs(self, blobs) -> None:
        for blob in blobs:
            self.blob_path(blob).unlink(missing_ok=True)

    def _link_blob(self, blob: str) -> str:
        """A new name for the same (immutable) body."""
        name = uuid.uuid4().hex
        target = self.blob_path(name)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        try:
            os.link(self.blob_path(blob), target)
        except OSError:  # file systems without hard links
            import shutil

            shutil.copyfile(self.blob_path(blob), target)
        return name

    # -- buckets -----------------------------------------------------------------------
    def buckets(self) -> list[tuple[str, float]]:
        return list(self.db.execute("SELECT name, created FROM buckets ORDER BY name"))

    def has_bucket(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is not None

    def bucket_region(self, name: str) -> str:
        row = self.db.execute("SELECT region FROM buckets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise no_bucket(name)
        return row[0]

    def require_bucket(self, name: str) -> None:
        if not self.has_bucket(name):
            raise no_bucket(name)

    def create_bucket(self, name: str, region: str) -> None:
        if self.has_bucket(name):
            raise StoreError("BucketAlreadyOwnedByYou", 409, f"Your previous request to create the named bucket succeeded and you already own it: {name}")
        self.db.execute("INSERT INTO buckets VALUES (?, ?, ?)", (name, time.time(), region))

    def delete_bucket(self, name: str) -> None:
        self.require_bucket(name)
        if self.db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
            raise StoreError("BucketNotEmpty", 409, f"The bucket you tried to delete is not empty: {name}")
        for (upload,) in list(self.db.execute("SELECT id FROM uploads WHERE bucket = ?", (name,))):
            self.abort_upload(name, upload)
        self.db.execute("DELETE FROM policies WHERE bucket = ?", (name,))
        self.db.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def bucket_policy(self, name: str) -> str | None:
        self.require_bucket(name)
        row = self.db.execute("SELECT policy FROM policies WHERE bucket = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_bucket_policy(self, name: str, policy: str | None) -> None:
        self.require_bucket(name)
        if policy is None:
            self.db.execute("DELETE FROM policies WHERE bucket = ?", (name,))
        else:
            self.db.execute("INSERT OR REPLACE INTO policies VALUES (?, ?)", (name, policy))

    # -- objects -----------------------------------------------------------------------
    def get(self, bucket: str, key: str) -> Obj:
        row = self.db.execute("SELECT key, blob, size, etag, modified, meta FROM objects WHERE bucket = ? AND key = ?",
                              (bucket, key)).fetchone()
        if row is None:
            self.require_bucket(bucket)
            raise StoreError("NoSuchKey", 404, f"The specified key does not exist: {key}")
        return Obj(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))

    def put(self, bucket: str, key: str, blob: str, size: int, etag: str, meta: dict) -> Obj:
        """Index a finished body (the caller made it durable); the old body goes."""
        obj = Obj(key, blob, size, etag, time.time(), meta)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if not self.has_bucket(bucket):
                self._drop_blobs([blob])
                raise no_bucket(bucket)
            old = self.db.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            self.db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (bucket, key, blob, size, etag, obj.modified, json.dumps(meta)))
        if old and old[0] != blob:
            self._drop_blobs([old[0]])
        return obj

    def set_meta(self, bucket: str, key: str, meta: dict) -> None:
        """New metadata (an ACL) for an object, its body and ETag unchanged."""
        self.get(bucket, key)
        self.db.execute("UPDATE objects SET meta = ? WHERE bucket = ? AND key = ?", (json.dumps(meta), bucket, key))

    def copy(self, source: Obj, bucket: str, key: str, meta: dict) -> Obj:
        return self.put(bucket, key, self._link_blob(source.blob), source.size, source.etag, meta)

    def delete(self, bucket: str, key: str) -> None:
        """S3 answers a delete of a missing key with success too."""
        self.require_bucket(bucket)
        row = self.db.execute("DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING blob", (bucket, key)).fetchone()
        if row:
            self._drop_blobs([row[0]])

    def walk(self, bucket: str, prefix: str = "", after: str = ""):
        """Objects with `prefix`, keys > `after`, in key order (read in pages)."""
        self.require_bucket(bucket)
        while True:
            rows = self.db.execute(
                "SELECT key, blob, size, etag, modified, meta FROM objects WHERE bucket = ? AND key > ? AND key >= ? "
                "ORDER BY key LIMIT 500", (bucket, after, prefix)).fetchall()
            for row in rows:
                if not row[0].startswith(prefix):
                    return
                yield Obj(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))
            if len(rows) < 500:
                return
            after = rows[-1][0]

    def listing(self, bucket: str, prefix: str, delimiter: str, after: str, limit: int):
        """One page of ListObjects(V2): (objects, common prefixes, truncated, resume point).

        The resume point is where the next page starts (keys after it); past a
        common prefix it sorts after every key under that prefix.
        """
        objects, prefixes, resume = [], [], after
        walker = self.walk(bucket, prefix, after)
        while (obj := next(walker, None)) is not None:
            cut = obj.key.find(delimiter, len(prefix)) if delimiter else -1
            if cut < 0:
                if len(objects) + len(prefixes) >= limit:
                    return objects, prefixes, True, resume
                objects.append(obj)
                resume = obj.key
                continue
            common = obj.key[:cut + len(delimiter)]
            if common > after:  # a marker equal to a common prefix means "after that group"
                if len(objects) + len(prefixes) >= limit:
                    return objects, prefixes, True, resume
                prefixes.append(common)
            resume = common + "\U0010ffff"
            walker = self.walk(bucket, prefix, resume)
        return objects, prefixes, False, resume

    # -- multipart uploads -------------------------------------------------------------
    def create_upload(self, bucket: str, key: str, meta: dict) -> str:
        self.require_bucket(bucket)
        upload = uuid.uuid4().hex
        self.db.execute("INSERT INTO uploads VALUES (?, ?, ?, ?, ?)", (upload, bucket, key, time.time(), json.dumps(meta)))
        return upload

    def upload(self, bucket: str, upload: str) -> tuple[str, dict]:
        row = self.db.execute("SELECT key, meta FROM uploads WHERE id = ? AND bucket = ?", (upload, bucket)).fetchone()
        if row is None:
            self.require_bucket(bucket)
            raise StoreError("NoSuchUpload", 404, "The specified multipart upload does not exist.")
        return row[0], json.loads(row[1])

    def uploads(self, bucket: str) -> list[tuple[str, str, float]]:
        self.require_bucket(bucket)
        return list(self.db.execute("SELECT key, id, created FROM uploads WHERE bucket = ? ORDER BY key, created", (bucket,)))

    def put_part(self, bucket: str, upload: str, number: int, blob: str, size: int, etag: str) -> None:
        try:
            self.upload(bucket, upload)
        except StoreError:
            self._drop_blobs([blob])
            raise
        old = self.db.execute("SELECT blob FROM parts WHERE upload = ? AND number = ?", (upload, number)).fetchone()
        self.db.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?)", (upload, number, blob, size, etag))
        if old:
            self._drop_blobs([old[0]])

    def parts(self, upload: str) -> list[tuple[int, str, int, str]]:
        return list(self.db.execute("SELECT number, blob, size, etag FROM parts WHERE upload = ? ORDER BY number", (upload,)))

    def complete_upload(self, bucket: str, upload: str, wanted: list[tuple[int, str]]) -> Obj:
        """wanted: (part number, ETag) as the client lists them, in ascending order."""
        key, meta = self.upload(bucket, upload)
        parts = {number: (blob, size, etag) for number, blob, size, etag in self.parts(upload)}
        if not wanted:
            raise StoreError("MalformedXML", 400, "The XML you provided did not list any part.")
        numbers = [number for number, _ in wanted]
        if numbers != sorted(set(numbers)):
            raise StoreError("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
        for number, etag in wanted:
            if number not in parts or parts[number][2] != etag.strip('"'):
                raise StoreError("InvalidPart", 400, f"Part {number} was not uploaded, or its ETag does not match.")
        body = Body(self)
        digest = hashlib.md5()  # noqa: S324 - S3's multipart ETag
        try:
            for number, _ in wanted:
                blob, _, etag = parts[number]
                digest.update(bytes.fromhex(etag))
                with open(self.blob_path(blob), "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        body.file.write(chunk)
                        body.size += len(chunk)
            blob = body.finish()
        except BaseException:
            body.discard()
            raise
        obj = self.put(bucket, key, blob, body.size, f"{digest.hexdigest()}-{len(wanted)}", meta)
        self._forget_upload(upload)
        return obj

    def abort_upload(self, bucket: str, upload: str) -> None:
        self.upload(bucket, upload)
        self._forget_upload(upload)

    def _forget_upload(self, upload: str) -> None:
        blobs = [row[0] for row in self.db.execute("DELETE FROM parts WHERE upload = ? RETURNING blob", (upload,))]
        self.db.execute("DELETE FROM uploads WHERE id = ?", (upload,))
        self._drop_blobs(blobs)
