"""S3 fixtures: buckets created, directory trees uploaded in parallel with content types.

    seed:
      avatars: seed/s3/avatars/          # bucket -> directory (keys relative to it)
      course-assets: [seed/s3/courses/, seed/s3/extra/*.pdf]

Every bucket of the service (`buckets:` and the ones named here) is created,
even with no fixtures. A seed empties those buckets and uploads the trees. The
snapshot is a copy of the uploaded files in .devstack/seed/<service>.s3/<bucket>/
(not a bucket: the app's own list_buckets would show it, on MinIO and moto as on
the stand-in). `--reset` empties the buckets (the app's objects too) and uploads
the snapshot again.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devstack.seed.base import SeedError, Seeder, short_error
from devstack.seed.specs import S3Spec
from devstack.services.minio import bucket_names, public_buckets, public_read_policy

WORKERS = 8
EXTRA_TYPES = {".webp": "image/webp", ".avif": "image/avif", ".md": "text/markdown", ".vtt": "text/vtt",
               ".mjs": "text/javascript", ".woff2": "font/woff2", ".yaml": "application/yaml", ".yml": "application/yaml"}


def content_type(name: str) -> str:
    lower = name.lower()
    for ext, ctype in EXTRA_TYPES.items():
        if lower.endswith(ext):
            return ctype
    guessed, encoding = mimetypes.guess_type(name)
    if encoding:  # .gz, .br: the object is the compressed bytes
        return {"gzip": "application/gzip", "br": "application/x-brotli"}.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


class S3Seeder(S3Spec, Seeder):
    kind = "minio"

    def buckets(self, fixtures) -> list[str]:
        names = bucket_names(self.svc.options.get("buckets") or [])
        for fx in fixtures:
            if fx.options["bucket"] not in names:
                names.append(fx.options["bucket"])
        return names

    def extra(self):
        return {"buckets": self.svc.options.get("buckets") or []}

    # -- client --------------------------------------------------------------------
    def client(self):
        import boto3
        from botocore.config import Config

        o = self.svc.outputs
        return boto3.client("s3", endpoint_url=o["endpoint"], aws_access_key_id=o["access_key"], aws_secret_access_key=o["secret_key"],
                            region_name=o.get("region") or "us-east-1",
                            config=Config(s3={"addressing_style": "path"}, max_pool_connections=WORKERS * 2,
                                          retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60))

    def guard(self, what: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise SeedError(f"{self.name}: {what}: {err.get('Code', '')} {short_error(err.get('Message', exc))}".rstrip()) from None
        except BotoCoreError as exc:
            raise SeedError(f"{self.name}: {what}: {short_error(exc)}", "is the stack up? `devstack up` / `devstack status`", intact=True) from None

    def bucket_exists(self, s3, bucket: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            s3.head_bucket(Bucket=bucket)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise

    def ensure_bucket(self, s3, bucket: str) -> None:
        if self.guard(f"bucket {bucket}", self.bucket_exists, s3, bucket):
            return
        region = self.svc.outputs.get("region") or "us-east-1"
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        self.guard(f"create bucket {bucket}", s3.create_bucket, Bucket=bucket, **kwargs)

    def keys(self, s3, bucket: str) -> list[str]:
        found = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in self.guard(f"list {bucket}", lambda: list(paginator.paginate(Bucket=bucket))):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found

    def empty(self, s3, bucket: str) -> int:
        keys = self.keys(s3, bucket)
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            result = self.guard(f"empty {bucket}", s3.delete_objects, Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if result.get("Errors"):
                first = result["Errors"][0]
                raise SeedError(f"{self.name}: cannot delete {bucket}/{first.get('Key')}: {first.get('Message')}")
        return len(keys)

    def parallel(self, fn, items) -> None:
        with ThreadPoolExecutor(WORKERS) as pool:
            for _ in pool.map(fn, items):
                pass

    @property
    def snapshot_dir(self) -> Path:
        return self.plan.state_dir / "seed" / f"{self.name}.s3"

    def keep_snapshot(self, buckets: list[str], fixtures) -> None:
        """Copy the uploaded files under the snapshot directory, replaced whole."""
        from devstack.fsutil import private_dir, writing

        target = self.snapshot_dir
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with writing(target):  # a full disk: one error naming it, the last snapshot kept
            try:
                private_dir(tmp)  # 0700 dirs, 0600 files: the bucket's objects are the app's data
                for bucket in buckets:
                    (tmp / bucket).mkdir(mode=0o700)
                for fx in fixtures:
                    dest = tmp / fx.options["bucket"] / fx.options["key"]
                    for parent in reversed(dest.relative_to(tmp).parents[:-1]):
                        (tmp / parent).mkdir(mode=0o700, exist_ok=True)
                    with open(fx.path, "rb") as src, open(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                        shutil.copyfileobj(src, out)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)

    def snapshot_items(self, seeded: str, into: str) -> list[tuple[str, str, Path]]:
        """(bucket, key, file) that put the seeded objects of bucket `seeded` into bucket `into`."""
        root = self.snapshot_dir / seeded
        return [(into, path.relative_to(root).as_posix(), path) for path in sorted(root.rglob("*")) if path.is_file()]

    def upload_all(self, s3, items) -> None:
        """items: (bucket, key, local path); uploaded in parallel with content types from the names."""
        def upload(item):
            bucket, key, path = item
            with open(path, "rb") as handle:
                self.guard(f"upload {bucket}/{key}", s3.put_object, Bucket=bucket, Key=key, Body=handle, ContentType=content_type(Path(key).name))

        self.parallel(upload, items)

    # -- seed --------------------------------------------------------------------------
    def load(self, fixtures):
        t0 = time.monotonic()
        s3 = self.client()
        buckets = self.buckets(fixtures)
        for bucket in buckets:
            self.ensure_bucket(s3, bucket)
            self.empty(s3, bucket)
        for bucket in public_buckets(self.svc.options.get("buckets") or []):  # every backend: MinIO, moto, the stand-in
            self.guard(f"make {bucket} public", s3.put_bucket_policy, Bucket=bucket, Policy=public_read_policy(bucket))

        self.upload_all(s3, [(fx.options["bucket"], fx.options["key"], fx.path) for fx in fixtures])
        self.keep_snapshot(buckets, fixtures)
        size = sum(fx.path.stat().st_size for fx in fixtures)
        self.say(f"{len(fixtures)} objects ({size / 1024:.0f} KiB) into {', '.join(buckets)} in {time.monotonic() - t0:.2f}s")
        return {"buckets": buckets, "snapshot": self.snapshot_dir.name, "objects": len(fixtures)}

    def present(self, record):
        # Every `up` asks this: a HEAD per bucket over the standard library, no boto3 import.
        if "snapshots" in record:  # seeded before snapshots moved to disk: the buckets are the seeded state
            return all(self.head_bucket(b) for b in record["snapshots"])
        return self.snapshot_dir.is_dir() and all(self.head_bucket(b) for b in record.get("buckets", []))

    def head_bucket(self, bucket: str) -> bool:
        from devstack import probes
        from devstack.errors import NotReady

        o = self.svc.outputs
        try:
            status = probes.s3_call(o["endpoint"], o["access_key"], o["secret_key"], o.get("region") or "us-east-1", "HEAD",
                                    f"/{bucket}", expect=(200, 404))[0]
        except NotReady as exc:  # no answer, or an error status (403: wrong keys)
            hint = None if "answered" in str(exc) else "is the stack up? `devstack up` / `devstack status`"
            raise SeedError(f"{self.name}: bucket {bucket}: {short_error(exc)}", hint, intact=True) from None
        return status == 200

    def reset(self, record):
        snapshot = self.snapshot_dir
        if "buckets" not in record or not snapshot.is_dir():
            return False
        t0 = time.monotonic()
        s3 = self.client()
        items = []
        for bucket in record["buckets"]:
            self.ensure_bucket(s3, bucket)
            self.empty(s3, bucket)
            items += self.snapshot_items(bucket, bucket)
        self.upload_all(s3, items)
        self.say(f"reset to the seeded state ({len(items)} objects) in {time.monotonic() - t0:.2f}s")
        return True


seeder = S3Seeder
