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

    def ready(self, svc, stack):
        from minio import Minio as Client
        from minio.error import MinioException

        o = svc.outputs
        client = Client(f"{o['host']}:{o['port']}", access_key=o["access_key"], secret_key=o["secret_key"], secure=False, region=o["region"])
        try:
            client.list_buckets()  # a signed S3 call: proves credentials too
        except (MinioException, OSError, ValueError) as exc:
            raise NotReady(str(exc)) from None
