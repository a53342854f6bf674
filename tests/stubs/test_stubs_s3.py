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


def test_presigned_put_with_content_type_v2_and_v4(s3_server):
    """boto3 signs ContentType into the link (V2, its default for IP endpoints, puts it in the query)."""
    import requests

    server = s3_server()
    s3 = client(server.endpoint)
    s3.create_bucket(Bucket="typed")
    for n, signer in enumerate((client(server.endpoint), client(server.endpoint, signature_version="s3v4"))):
        url = signer.generate_presigned_url("put_object", Params={"Bucket": "typed", "Key": f"a{n}.png", "ContentType": "image/png"})
        assert requests.put(url, data=b"png", headers={"Content-Type": "image/png"}, timeout=5).status_code == 200, url
        got = s3.get_object(Bucket="typed", Key=f"a{n}.png")
        assert (got["ContentType"], got["Body"].read()) == ("image/png", b"png")
        # another type than the one signed: refused, as S3 does
        assert requests.put(url, data=b"x", headers={"Content-Type": "text/html"}, timeout=5).status_code == 403


def test_public_read_acl_serves_anonymously_and_private_stays_403(s3_server, http):
    server = s3_server()
    s3 = client(server.endpoint)
    s3.create_bucket(Bucket="cdn")
    s3.put_object(Bucket="cdn", Key="logo.png", Body=b"logo", ContentType="image/png", ACL="public-read")
    s3.put_object(Bucket="cdn", Key="secret.txt", Body=b"secret")
    url = server.endpoint + "/cdn/"
    got = http("GET", url + "logo.png")
    assert (got.status, got.body, got.headers["Content-Type"]) == (200, b"logo", "image/png")
    assert http("HEAD", url + "logo.png").status == 200
    assert http("GET", url + "secret.txt").status == 403
    assert http("GET", url + "missing.txt").status == 403  # no telling what exists
    assert http("GET", url).status == 403  # listing is not public
    assert http("PUT", url + "logo.png", data=b"defaced").status == 403
    assert http("DELETE", url + "logo.png").status == 403

    s3.put_object_acl(Bucket="cdn", Key="secret.txt", ACL="public-read")
    assert http("GET", url + "secret.txt").body == b"secret"
    grants = s3.get_object_acl(Bucket="cdn", Key="secret.txt")["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [g["Grantee"] for g in grants]
    s3.put_object_acl(Bucket="cdn", Key="secret.txt", ACL="private")
    assert http("GET", url + "secret.txt").status == 403

    s3.copy_object(Bucket="cdn", Key="copy.png", CopySource={"Bucket": "cdn", "Key": "logo.png"})
    assert http("GET", url + "copy.png").status == 403  # an ACL is never copied
    s3.copy_object(Bucket="cdn", Key="copy.png", CopySource={"Bucket": "cdn", "Key": "logo.png"}, ACL="public-read")
    assert http("GET", url + "copy.png").status == 200
    big = s3.create_multipart_upload(Bucket="cdn", Key="big.bin", ACL="public-read")["UploadId"]
    part = s3.upload_part(Bucket="cdn", Key="big.bin", UploadId=big, PartNumber=1, Body=b"parts")["ETag"]
    s3.complete_multipart_upload(Bucket="cdn", Key="big.bin", UploadId=big, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
    assert http("GET", url + "big.bin").body == b"parts"


def test_bucket_policy_makes_a_bucket_public(s3_server, http):
    import json

    import requests

    server = s3_server()
    s3 = client(server.endpoint)
    s3.create_bucket(Bucket="site")
    s3.put_object(Bucket="site", Key="css/app.css", Body=b"body{}", ContentType="text/css")
    url = server.endpoint + "/site/css/app.css"
    assert requests.get(url, timeout=5).status_code == 403
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket="site")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::site/*"]}]})
    s3.put_bucket_policy(Bucket="site", Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket="site")["Policy"]) == json.loads(policy)
    r = requests.get(url, timeout=5)
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"body{}", "text/css")
    assert requests.get(server.endpoint + "/site/none.css", timeout=5).status_code == 403  # no s3:ListBucket
    assert http("GET", server.endpoint + "/site").status == 403
    assert requests.put(url, data=b"x", timeout=5).status_code == 403

    # an explicit Deny wins, even over an object's public-read ACL
    s3.put_object(Bucket="site", Key="private/key.pem", Body=b"k", ACL="public-read")
    deny = json.loads(policy)
    deny["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/private/*"})
    s3.put_bucket_policy(Bucket="site", Policy=json.dumps(deny))
    assert requests.get(server.endpoint + "/site/private/key.pem", timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 200

    listing = {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::site"}
    s3.put_bucket_policy(Bucket="site", Policy=json.dumps({**deny, "Statement": deny["Statement"] + [listing]}))
    assert b"<Key>css/app.css</Key>" in http("GET", server.endpoint + "/site?list-type=2").body
    assert requests.get(server.endpoint + "/site/none.css", timeout=5).status_code == 404  # who may list may know

    with pytest.raises(botocore.exceptions.ClientError, match="MalformedPolicy"):
        s3.put_bucket_policy(Bucket="site", Policy="{not json")
    s3.delete_bucket_policy(Bucket="site")
    assert requests.get(url, timeout=5).status_code == 403


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
