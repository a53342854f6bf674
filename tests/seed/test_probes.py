"""The standard-library S3 client in devstack.probes, against the session's real moto server.

`up` talks to S3 (moto's snapshot, bucket checks) through it instead of boto3 /
minio, whose imports cost more than the rest of a warm `up`.
"""

from __future__ import annotations

import seed_servers as S

from devstack import probes


def test_s3_call_keys_metadata_and_listing(servers):
    endpoint = f"http://127.0.0.1:{servers['moto'].port}"

    def call(*args, **kwargs):
        return probes.s3_call(endpoint, S.S3_ACCESS_KEY, S.S3_SECRET_KEY, "us-east-1", *args, **kwargs)

    call("PUT", "/probe-bucket")
    key = "dir/a b+c%d~é?x=1#y"
    call("PUT", f"/probe-bucket/{key}", body=b"odd", headers={"Content-Type": "text/plain", "x-amz-meta-owner": "ann"})
    status, headers, body = call("GET", f"/probe-bucket/{key}")
    headers = {k.lower(): v for k, v in headers.items()}
    assert (status, body, headers["content-type"], headers["x-amz-meta-owner"]) == (200, b"odd", "text/plain", "ann")
    listing = call("GET", "/probe-bucket", query={"list-type": "2", "prefix": "dir/"})[2].decode()
    assert "<Key>dir/a b+c%d~é?x=1#y</Key>" in listing
    assert call("HEAD", "/no-such-bucket", expect=(200, 404))[0] == 404
