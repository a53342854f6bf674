"""S3 storage: MinIO from quay.io in Docker; natively a minio binary, else
devstack's S3 stand-in (or moto, when asked)."""

from __future__ import annotations

import os
import re

from devstack.services.base import Kind, NotReady, Option, Port

# S3's bucket naming rule (the seed's `seed:` keys and init's guesses check it too).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Docker Hub's minio/minio is gone (Sept 2026); this is the last community release.
MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"


class Minio(Kind):
    name = "minio"
    seeder = "devstack.seed.s3"
    seed_spec = "devstack.seed.specs:S3Spec"
    summary = "S3-compatible object storage"
    modes = ("run", "stub", "off", "external")
    standin_when_no_binary = True
    options = {
        "image": Option(str, MINIO_IMAGE, "MinIO image"),
        "access_key": Option(str, None, "access key id; generated when unset", generate="alnum:20"),
        "secret_key": Option(str, None, "secret access key; generated when unset", generate="alnum:40"),
        "region": Option(str, "us-east-1", "region the SDKs are told"),
        "buckets": Option(list, [], "buckets created at startup (the first is `bucket`): names, or "
                          "{name: assets, public: true} to let anyone read its objects (a CDN URL)"),
        "bin": Option(str, None, "path of a minio binary for the native runtime"),
        "fallback": Option(str, "standin", "what the native runtime runs without a minio binary: devstack's "
                           "on-disk S3 stand-in, or moto's in-memory S3 server", choices=("standin", "moto")),
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
    output_help = {
        "endpoint": "http://host:port, the S3 endpoint URL",
        "url": "same as endpoint",
        "host": "address the server listens on",
        "port": "TCP port of the S3 API",
        "access_key": "access key id",
        "secret_key": "secret access key",
        "region": "region the SDKs are told",
        "bucket": "the first of `buckets` (empty when none)",
        "buckets": "every bucket created at startup",
        "public_buckets": "buckets anyone may read without credentials (`public: true`)",
        "console_url": "MinIO's web console (Docker, or a minio binary)",
        "path_style": "\"true\": address buckets by path, not by host name",
    }
    docker = "quay.io/minio/minio (the Docker Hub image is gone), pinned release"
    native_binary = "a minio binary when one is installed (`bin:`, PATH)"
    standin = "devstack's S3 stand-in (python -m devstack.stubs.s3): every object on disk before its PUT is answered, real SigV4/SigV2 signature checks; `fallback: moto` runs moto's in-memory server instead"
    standin_lacks = "versioning, object lock, lifecycle rules and UploadPartCopy (answered 501); bucket policies only as far as anonymous reads (s3:GetObject); no web console"

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
            "bucket": (bucket_names(o["buckets"]) or [""])[0],
            "buckets": bucket_names(o["buckets"]),
            "public_buckets": public_buckets(o["buckets"]),
            "console_url": f"http://{svc.host}:{svc.ports['console_port']}",
            "path_style": "true",
        }

    def external_outputs(self, svc):
        return {**super().external_outputs(svc), "endpoint": svc.options["url"], "region": svc.options["region"], "bucket": (bucket_names(svc.options["buckets"]) or [""])[0]}

    def check(self, options):
        problems = []
        for entry in options["buckets"]:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(entry, dict) and (set(entry) - {"name", "public"} or not isinstance(entry.get("public", False), bool)):
                problems.append(("buckets", f"bucket entry {entry!r}: only `name` and `public` (true/false) go here"))
            if not isinstance(name, str) or not BUCKET_NAME.match(name):
                problems.append(("buckets", f"invalid bucket name {name!r} (3-63 lower-case letters, digits, `.` or `-`)"))
        return problems

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        return (Wanted(names=("minio",), what="MinIO server (minio)", brew="minio/stable/minio", dirs=("/usr/local/bin", "/opt/homebrew/bin"),
                       elsewhere="MinIO's server binary: https://min.io/docs/minio/linux/index.html"),)

    def native(self, svc, stack, host):
        from devstack.services.spec import NativeSpec, python_env, python_module

        o = svc.outputs
        state = svc.state_dir
        binary = host.optional_for(svc, self.wanted(svc)[0])
        if binary:
            data = state / "data"
            return NativeSpec(
                argv=[binary, "server", str(data), "--address", f"{svc.host}:{o['port']}",
                      "--console-address", f"{svc.host}:{svc.ports['console_port']}", "--quiet"],
                implementation=f"minio ({binary})",
                env={"MINIO_ROOT_USER": o["access_key"], "MINIO_ROOT_PASSWORD": o["secret_key"],
                     "MINIO_BROWSER_REDIRECT": "off", "MINIO_UPDATE": "off"},
                cwd=state, dirs=[data],
                bootstrap=lambda: create_buckets(o),
            )
        if svc.options["fallback"] == "standin":
            # devstack's S3 stand-in: objects on disk as they are written, and it
            # forks from the stand-ins' pre-warmed helper (moto costs ~1 s of CPU to start).
            return NativeSpec(
                argv=python_module("devstack.stubs.s3", "--host", svc.host, "--port", o["port"],
                                           "--state-dir", state, "--region", o["region"]),
                implementation="devstack S3 stand-in (no minio binary found)",
                env={**python_env(), "DEVSTACK_S3_ACCESS_KEY": o["access_key"], "DEVSTACK_S3_SECRET_KEY": o["secret_key"]},
                cwd=state,
                bootstrap=lambda: (import_moto_snapshot(o, state / "snapshot"), create_buckets(o)),
                hint="install a minio binary (or use the docker runtime) for the parts of the S3 API the stand-in lacks",
            )
        # No minio binary: moto's S3 server. It keeps objects in memory only, so
        # `down` dumps them to the state dir and the next `up` loads them back:
        # serve_moto loads it in-process before its port opens (bootstrap's
        # restore over HTTP is the fallback).
        snapshot = state / "snapshot"
        return NativeSpec(
            argv=python_module("devstack.services.minio", "moto", "-H", svc.host, "-p", o["port"],
                                       "--region", o["region"], "--snapshot", snapshot),
            implementation="moto S3 server (fallback: moto; no minio binary found)",
            env={**python_env(), "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            cwd=state,
            bootstrap=lambda: (restore_snapshot(o, snapshot), create_buckets(o)),
            before_stop=lambda: dump_snapshot(o, snapshot),
            start_first=True,  # importing moto costs ~1 s of CPU: the slowest service of most stacks
            hint="install a minio binary to keep S3 data on disk as it is written (moto only saves it on `devstack down`)",
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        # A signed S3 ListBuckets (proves the credentials too), standard library
        # only: the minio client costs ~0.3 s to import in every `up`.
        probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"])


# -- native helpers: buckets, and moto's snapshot ------------------------------------------
# All over the standard library (devstack.probes): the minio client or boto3
# cost ~0.3 s each to import, and the snapshot is restored in every `up`.


def _s3(o, method="GET", path="/", **kwargs):
    from devstack import probes

    return probes.s3_call(o["endpoint"], o["access_key"], o["secret_key"], o["region"], method, path, **kwargs)


def _location(region: str) -> bytes:
    """CreateBucket's body: outside us-east-1, S3 (and moto) want the region named in it."""
    return b"" if region == "us-east-1" else (
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        f"<LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>").encode()


def _make_bucket(o, name: str) -> None:
    _s3(o, "PUT", f"/{name}", body=_location(o["region"]))


def _object_headers(obj: dict) -> dict:
    """PutObject headers that give back an object of the snapshot."""
    headers = {"Content-Type": obj.get("content_type") or "application/octet-stream"}
    headers.update({f"x-amz-meta-{k}": v for k, v in (obj.get("metadata") or {}).items()})
    return headers


def bucket_names(entries) -> list[str]:
    """`buckets:` entries are names or {name, public} mappings."""
    return [entry["name"] if isinstance(entry, dict) else entry for entry in entries]


def public_buckets(entries) -> list[str]:
    return [entry["name"] for entry in entries if isinstance(entry, dict) and entry.get("public")]


def public_read_policy(bucket: str) -> str:
    """A bucket policy letting anyone GET its objects (not list them): what `public: true` sets."""
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/*"]}]})


def create_buckets(o) -> None:
    """The manifest's buckets, created once the server answers, public ones given
    their policy (idempotent)."""
    from devstack import probes

    existing = set(probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"]))
    for name in o["buckets"]:
        if name not in existing:
            _make_bucket(o, name)
    for name in o.get("public_buckets", []):
        _s3(o, "PUT", f"/{name}", query={"policy": ""}, body=public_read_policy(name).encode(),
            headers={"Content-Type": "application/json"}, expect=(200, 204))


def _list_keys(o, bucket: str) -> list[str]:
    """Every key of a bucket (ListObjectsV2, all pages)."""
    import xml.etree.ElementTree as ET

    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    keys, token = [], None
    while True:
        query = {"list-type": "2", **({"continuation-token": token} if token else {})}
        root = ET.fromstring(_s3(o, "GET", f"/{bucket}", query=query)[2])
        keys += [item.findtext(f"{ns}Key") for item in root.iter(f"{ns}Contents")]
        token = root.findtext(f"{ns}NextContinuationToken")
        if root.findtext(f"{ns}IsTruncated") != "true" or not token:
            return keys


def dump_snapshot(o, snapshot) -> None:
    """Every bucket and object (with content type and user metadata) to `snapshot`.

    Layout: <snapshot>/index.json lists buckets and objects; object bodies are
    numbered files (keys may hold anything, file names never do).
    """
    import json
    import shutil

    from devstack import probes

    tmp = snapshot.with_name(snapshot.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    index = {"buckets": []}
    jobs = []
    for bucket in probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"]):
        entry = {"name": bucket, "objects": []}
        for key in _list_keys(o, bucket):
            entry["objects"].append({"key": key, "file": f"{len(jobs) + 1}.bin"})
            jobs.append((bucket, entry["objects"][-1]))
        index["buckets"].append(entry)

    def fetch(job) -> None:
        bucket, obj = job
        _, headers, body = _s3(o, "GET", f"/{bucket}/{obj['key']}")
        headers = {k.lower(): v for k, v in headers.items()}
        (tmp / obj["file"]).write_bytes(body)
        obj["content_type"] = headers.get("content-type")
        obj["metadata"] = {k[len("x-amz-meta-"):]: v for k, v in headers.items() if k.startswith("x-amz-meta-")}

    _parallel(fetch, jobs)
    (tmp / "index.json").write_text(json.dumps(index, indent=1))
    old = snapshot.with_name(snapshot.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if snapshot.exists():
        snapshot.rename(old)
    tmp.rename(snapshot)
    shutil.rmtree(old, ignore_errors=True)


def _parallel(fn, items, workers: int = 8) -> None:
    if len(items) < 2:
        for item in items:
            fn(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        for _ in pool.map(fn, items):
            pass


def import_moto_snapshot(o, snapshot) -> None:
    """Objects a moto server saved (`fallback: moto`, or devstack before the stand-in)
    go into the stand-in once; the snapshot is kept aside, renamed."""
    if (snapshot / "index.json").exists():
        restore_snapshot(o, snapshot)
        snapshot.rename(snapshot.with_name("snapshot.imported"))


def restore_snapshot(o, snapshot) -> None:
    """Load a snapshot into a fresh (empty) moto server; raises NotReady until it answers."""
    import json

    from devstack import probes

    index_path = snapshot / "index.json"
    if not index_path.exists():
        return
    if probes.s3_list_buckets(o["endpoint"], o["access_key"], o["secret_key"], o["region"]):  # NotReady until it answers
        return  # not empty: already restored
    index = json.loads(index_path.read_text())

    def put(job) -> None:
        bucket, obj = job
        _s3(o, "PUT", f"/{bucket}/{obj['key']}", body=(snapshot / obj["file"]).read_bytes(), headers=_object_headers(obj))

    try:
        for bucket in index["buckets"]:
            _make_bucket(o, bucket["name"])
        _parallel(put, [(bucket["name"], obj) for bucket in index["buckets"] for obj in bucket["objects"]])
    except OSError as exc:
        raise NotReady(str(exc)) from None


# -- moto's S3 server, with the snapshot loaded in-process ---------------------------------


def serve_moto(argv=None) -> None:
    """`python -m devstack.services.minio moto -H HOST -p PORT [--region R] [--snapshot DIR]`

    The server `python -m moto.server` runs (the same app: every moto service,
    CORS, /moto-api), except that the snapshot `down` saved is put in before the
    port opens, through the app itself (~3 ms an object, where each PUT over
    HTTP costs the starting `up` ~10 ms), and moto's lazy set-up of S3 is done
    by then too, so the first request is answered at once.
    """
    import argparse
    import signal
    import sys
    import traceback
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m devstack.services.minio moto")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--snapshot", help="directory written by dump_snapshot")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple
    from werkzeug.test import Client

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    client = Client(app)
    try:
        count = _load_snapshot(client, args, Path(args.snapshot) if args.snapshot else None)
        if count:
            print(f"devstack: loaded {count} objects from {args.snapshot}", file=sys.stderr, flush=True)
    except Exception:  # noqa: BLE001 - start empty; devstack restores over HTTP then (and shows what fails)
        traceback.print_exc()
        print("devstack: could not load the snapshot in-process; starting empty", file=sys.stderr, flush=True)
        client.post("/moto-api/reset")

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    run_simple(args.host, args.port, app, threaded=True)


def _load_snapshot(client, args, snapshot) -> int:
    """Put the snapshot's buckets and objects in with S3 requests to the app; returns the object count."""
    import datetime
    import json
    import urllib.parse

    day = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
    # moto checks no signature; the credential scope tells it the service and region.
    auth = {"Authorization": f"AWS4-HMAC-SHA256 Credential=devstack/{day}/{args.region}/s3/aws4_request, "
                             "SignedHeaders=host, Signature=0"}
    base = f"http://{args.host}:{args.port}"

    def call(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> None:
        url = urllib.parse.quote(path, safe="/-_.~")
        response = client.open(url, base_url=base, method=method, data=body, headers={**auth, **(headers or {})})
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {response.get_data()[:300]!r}")

    call("GET", "/")  # moto sets S3 up on its first request
    index_path = snapshot / "index.json" if snapshot else None
    if index_path is None or not index_path.exists():
        return 0
    index = json.loads(index_path.read_text())
    count = 0
    for bucket in index["buckets"]:
        call("PUT", f"/{bucket['name']}", _location(args.region))
        for obj in bucket["objects"]:
            call("PUT", f"/{bucket['name']}/{obj['key']}", (snapshot / obj["file"]).read_bytes(), _object_headers(obj))
            count += 1
    return count


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["moto"]:
        sys.exit("usage: python -m devstack.services.minio moto -H HOST -p PORT [--region R] [--snapshot DIR]")
    serve_moto(sys.argv[2:])
