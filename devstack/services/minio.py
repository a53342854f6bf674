"""S3 storage: MinIO from quay.io in Docker; a minio binary or moto natively."""

from __future__ import annotations

import re

from devstack.services.base import Kind, NotReady, Option, Port

# Docker Hub's minio/minio is gone (Sept 2026); this is the last community release.
MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"


class Minio(Kind):
    name = "minio"
    summary = "S3-compatible object storage"
    modes = ("run", "stub", "off", "external")
    options = {
        "image": Option(str, MINIO_IMAGE, "MinIO image"),
        "access_key": Option(str, None, "access key id; generated when unset", generate="alnum:20"),
        "secret_key": Option(str, None, "secret access key; generated when unset", generate="alnum:40"),
        "region": Option(str, "us-east-1", "region the SDKs are told"),
        "buckets": Option(list, [], "buckets created at startup (the first is `bucket`)"),
        "bin": Option(str, None, "path of a minio binary for the native runtime (else moto's S3 server)"),
    }
    ports = {"port": Port(9000), "console_port": Port(9001)}
    default_env = {
        "AWS_ENDPOINT_URL_S3": "{{ endpoint }}",
        "AWS_ENDPOINT_URL": "{{ endpoint }}",
        "AWS_ACCESS_KEY_ID": "{{ access_key }}",
        "AWS_SECRET_ACCESS_KEY": "{{ secret_key }}",
        "AWS_REGION": "{{ region }}",
        "AWS_DEFAULT_REGION": "{{ region }}",
        # Not read by SDKs by itself: apps pass it as forcePathStyle / addressing_style.
        "S3_FORCE_PATH_STYLE": "true",
    }

    def outputs(self, svc, stack):
        o = svc.options
        endpoint = f"http://{svc.host}:{svc.ports['port']}"
        return {
            "endpoint": endpoint,
            "url": endpoint,
            "host": svc.host,
            "port": svc.ports["port"],
            "access_key": o["access_key"],
            "secret_key": o["secret_key"],
            "region": o["region"],
            "bucket": o["buckets"][0] if o["buckets"] else "",
            "buckets": o["buckets"],
            "console_url": f"http://{svc.host}:{svc.ports['console_port']}",
            "path_style": "true",
        }

    def external_outputs(self, svc):
        return {**super().external_outputs(svc), "endpoint": svc.options["url"], "region": svc.options["region"], "bucket": (svc.options["buckets"] or [""])[0]}

    def check(self, options):
        bad = [b for b in options["buckets"] if not isinstance(b, str) or not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b)]
        return [("buckets", f"invalid bucket name {b!r} (3-63 lower-case letters, digits, `.` or `-`)") for b in bad]

    def native(self, svc, stack):
        from devstack.runtime import binaries, process

        o = svc.outputs
        state = svc.state_dir
        wanted = binaries.Wanted(names=("minio",), what="MinIO server (minio)", brew="minio/stable/minio",
                                 dirs=("/usr/local/bin", "/opt/homebrew/bin"))
        binary = binaries.find(wanted, svc.options["bin"], required=False) if svc.mode == "run" else None
        if binary:
            data = state / "data"
            return process.NativeSpec(
                argv=[binary, "server", str(data), "--address", f"{svc.host}:{o['port']}",
                      "--console-address", f"{svc.host}:{svc.ports['console_port']}", "--quiet"],
                implementation=f"minio ({binary})",
                env={"MINIO_ROOT_USER": o["access_key"], "MINIO_ROOT_PASSWORD": o["secret_key"],
                     "MINIO_BROWSER_REDIRECT": "off", "MINIO_UPDATE": "off"},
                cwd=state, dirs=[data],
                bootstrap=lambda: create_buckets(o),
            )
        # No minio binary: moto's S3 server. It keeps objects in memory only, so
        # `down` dumps them to the state dir and the next `up` loads them back.
        snapshot = state / "snapshot"
        return process.NativeSpec(
            argv=process.python_module("moto.server", "-H", svc.host, "-p", o["port"]),
            implementation="moto S3 server (no minio binary found)",
            env={**process.python_env(), "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            cwd=state,
            bootstrap=lambda: (restore_snapshot(o, snapshot), create_buckets(o)),
            before_stop=lambda: dump_snapshot(o, snapshot),
            hint="install a minio binary to keep S3 data on disk as it is written (moto only saves it on `devstack down`)",
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        # A signed S3 ListBuckets (proves the credentials too), standard library
        # only: the minio client costs ~0.3 s to import in every `up`.
        probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"])


# -- native helpers: buckets, and moto's snapshot ------------------------------------------


def _client(o):
    from minio import Minio as Client

    return Client(f"{o['host']}:{o['port']}", access_key=o["access_key"], secret_key=o["secret_key"],
                  secure=False, region=o["region"])


def create_buckets(o) -> None:
    """The manifest's buckets, created once the server answers (idempotent)."""
    from devstack import probes

    existing = set(probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"]))
    for name in o["buckets"]:
        if name not in existing:
            probes.s3_request(o["endpoint"], o["access_key"], o["secret_key"], o["region"], method="PUT", path=f"/{name}")


def dump_snapshot(o, snapshot) -> None:
    """Every bucket and object (with content type and user metadata) to `snapshot`.

    Layout: <snapshot>/index.json lists buckets and objects; object bodies are
    numbered files (keys may hold anything, file names never do).
    """
    import json
    import shutil

    client = _client(o)
    tmp = snapshot.with_name(snapshot.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    index = {"buckets": []}
    count = 0
    for bucket in client.list_buckets():
        entry = {"name": bucket.name, "objects": []}
        for obj in client.list_objects(bucket.name, recursive=True):
            stat = client.stat_object(bucket.name, obj.object_name)
            count += 1
            client.fget_object(bucket.name, obj.object_name, str(tmp / f"{count}.bin"))
            meta = {k[len("x-amz-meta-"):]: v for k, v in stat.metadata.items() if k.lower().startswith("x-amz-meta-")}
            entry["objects"].append({"key": obj.object_name, "file": f"{count}.bin",
                                     "content_type": stat.content_type, "metadata": meta})
        index["buckets"].append(entry)
    (tmp / "index.json").write_text(json.dumps(index, indent=1))
    old = snapshot.with_name(snapshot.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if snapshot.exists():
        snapshot.rename(old)
    tmp.rename(snapshot)
    shutil.rmtree(old, ignore_errors=True)


def restore_snapshot(o, snapshot) -> None:
    """Load a snapshot into a fresh (empty) moto server; raises NotReady until it answers."""
    import json

    from minio.error import MinioException

    index_path = snapshot / "index.json"
    if not index_path.exists():
        return
    from devstack import probes

    probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"])  # NotReady until it answers
    try:
        client = _client(o)
        if list(client.list_buckets()):
            return  # not empty: already restored
        index = json.loads(index_path.read_text())
        for bucket in index["buckets"]:
            client.make_bucket(bucket["name"])
            for obj in bucket["objects"]:
                client.fput_object(bucket["name"], obj["key"], str(snapshot / obj["file"]),
                                   content_type=obj.get("content_type") or "application/octet-stream",
                                   metadata=obj.get("metadata") or None)
    except (MinioException, OSError) as exc:
        raise NotReady(str(exc)) from None
