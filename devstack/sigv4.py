"""AWS Signature Version 4, the parts both sides share: devstack's S3 probe
signs with them, the S3 stand-in checks with them.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def canonical_query(pairs) -> str:
    """pairs: decoded (name, value) items; sorted by encoded name, then value."""
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(method: str, path: str, query: str, headers: dict[str, str], signed: list[str], payload_hash: str) -> str:
    """path: already URI-encoded (as on the wire); headers: lower-case names."""
    lines = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed)
    return "\n".join([method, path, query, lines, ";".join(signed), payload_hash])


def signing_key(secret: str, day: str, region: str, service: str = "s3") -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, amz_date: str, scope: str, canonical: str) -> str:
    """scope: day/region/service/aws4_request."""
    day, region, service, _ = scope.split("/")
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(signing_key(secret, day, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
