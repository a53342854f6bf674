"""The S3 stand-in, through the clients apps use: boto3, the minio client, plain
HTTP for presigned links. It is what the native runtime runs without a minio binary."""
from __future__ import annotations

import io
import os
import signal

import boto3
import botocore
import pytest
from botocore.config import Config

KEY, SECRET = "AKIDSTANDIN", "standin/secret+key"


@pytest.fixture
def s3_server(start_stub, free_port, tmp_path):
    state = tmp_path / "s3"

    def start():
        port = free_port()
        stub = start_stub("s3", "--port", port, "--state-dir", state,
                          env={"DEVSTACK_S3_ACCESS_KEY": KEY, "DEVSTACK_S3_SECRET_KEY": SECRET},
                          ready=f"http://127.0.0.1:{port}/minio/health/live")
        stub.endpoint = f"http://127.0.0.1:{port}"
        stub.port = port
        return stub

    return start


def client(endpoint, secret=SECRET, **config):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}, **config))


def test_objects_roundtrip_with_boto3(s3_server):
    s3 = client(s3_server().endpoint)
    s3.create_bucket(Bucket="media")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["media"]
    s3.put_object(Bucket="media", Key="a/b c+d ü.txt", Body=b"hello", ContentType="text/plain",
                  Metadata={"owner": "ann"}, CacheControl="max-age=60")
    got = s3.get_object(Bucket="media", Key="a/b c+d ü.txt")
    assert got["Body"].read() == b"hello"
    assert (got["ContentType"], got["Metadata"], got["CacheControl"]) == ("text/plain", {"owner": "ann"}, "max-age=60")
    assert got["ETag"] == '"5d41402abc4b2a76b9719d911017c592"'  # md5, as S3 says
    assert s3.get_object(Bucket="media", Key="a/b c+d ü.txt", Range="bytes=1-3")["Body"].read() == b"ell"
    assert s3.head_object(Bucket="media", Key="a/b c+d ü.txt")["ContentLength"] == 5

    s3.copy_object(Bucket="media", Key="copy.txt", CopySource={"Bucket": "media", "Key": "a/b c+d ü.txt"})
    assert s3.head_object(Bucket="media", Key="copy.txt")["Metadata"] == {"owner": "ann"}
    s3.delete_object(Bucket="media", Key="copy.txt")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="media", Key="copy.txt")
    with pytest.raises(botocore.exceptions.ClientError, match="BucketNotEmpty"):
        s3.delete_bucket(Bucket="media")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="nope")


def test_listing_pages_prefixes_and_batch_delete(s3_server):
    s3 = client(s3_server().endpoint)
    s3.create_bucket(Bucket="tree")
    keys = [f"d{i % 3}/k{i:02d}" for i in range(12)] + ["top.txt"]
    for key in keys:
        s3.put_object(Bucket="tree", Key=key, Body=key.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="tree", PaginationConfig={"PageSize": 5}))
    assert len(pages) == 3
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(keys)
    top = s3.list_objects_v2(Bucket="tree", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["d0/", "d1/", "d2/"]
    assert [o["Key"] for o in top["Contents"]] == ["top.txt"]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket="tree", Delimiter="/", PaginationConfig={"PageSize": 2}))
    assert [p["Prefix"] for page in v1 for p in page.get("CommonPrefixes", [])] == ["d0/", "d1/", "d2/"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="tree", Prefix="d1/")["Contents"]] == [k for k in sorted(keys) if k.startswith("d1/")]

    deleted = s3.delete_objects(Bucket="tree", Delete={"Objects": [{"Key": k} for k in keys]})["Deleted"]
    assert sorted(d["Key"] for d in deleted) == sorted(keys)
    assert s3.list_objects_v2(Bucket="tree")["KeyCount"] == 0
    s3.delete_bucket(Bucket="tree")
    assert s3.list_buckets()["Buckets"] == []


def test_multipart_upload_and_the_minio_client(s3_server):
    from minio import Minio

    server = s3_server()
    s3 = client(server.endpoint)
    s3.create_bucket(Bucket="big")
    body = os.urandom(11 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(body), "big", "blob.bin")  # multipart above 8 MB
    got = s3.get_object(Bucket="big", Key="blob.bin")
    assert got["ETag"].endswith('-2"') and got["Body"].read() == body

    mc = Minio(f"127.0.0.1:{server.port}", access_key=KEY, secret_key=SECRET, secure=False, region="us-east-1")
    assert mc.bucket_exists("big") and not mc.bucket_exists("nope")
    mc.put_object("big", "m/stream.bin", io.BytesIO(body), -1, part_size=5 * 1024 * 1024)
    assert mc.get_object("big", "m/stream.bin").read() == body
    assert [o.object_name for o in mc.list_objects("big", recursive=True)] == ["blob.bin", "m/stream.bin"]


def test_presigned_links_v2_and_v4(s3_server):
    import requests

    server = s3_server()
    s3 = client(server.endpoint)
    s3.create_bucket(Bucket="links")
    s3.put_object(Bucket="links", Key="report.pdf", Body=b"%PDF-")
    for signer in (client(server.endpoint), client(server.endpoint, signature_version="s3v4")):
        url = signer.generate_presigned_url("get_object", Params={"Bucket": "links", "Key": "report.pdf",
                                                                  "ResponseContentDisposition": "attachment"})
        r = requests.get(url, timeout=5)
        assert r.status_code == 200 and r.content == b"%PDF-" and r.headers["Content-Disposition"] == "attachment"
        assert requests.get(url.replace("report.pdf", "other.pdf"), timeout=5).status_code == 403
        put = signer.generate_presigned_url("put_object", Params={"Bucket": "links", "Key": "upload.txt"})
        assert requests.put(put, data=b"from the browser", timeout=5).status_code == 200
        assert s3.get_object(Bucket="links", Key="upload.txt")["Body"].read() == b"from the browser"


def test_refuses_wrong_or_missing_credentials(s3_server, http):
    server = s3_server()
    with pytest.raises(botocore.exceptions.ClientError, match="SignatureDoesNotMatch"):
        client(server.endpoint, secret="wrong").list_buckets()
    assert http("GET", server.endpoint + "/").status == 403  # anonymous
    preflight = http("OPTIONS", server.endpoint + "/media/x", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT"})
    assert preflight.status == 200 and preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_objects_survive_sigkill(s3_server):
    """Every PUT is on disk before it is answered: a killed server loses nothing."""
    first = s3_server()
    s3 = client(first.endpoint)
    s3.create_bucket(Bucket="keep")
    s3.put_object(Bucket="keep", Key="k", Body=b"durable")
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    second = s3_server()
    assert client(second.endpoint).get_object(Bucket="keep", Key="k")["Body"].read() == b"durable"
