"""S3 stand-in: the S3 API apps use, on disk, with real SigV4 checks.

    DEVSTACK_S3_ACCESS_KEY=... DEVSTACK_S3_SECRET_KEY=... \\
    python -m devstack.stubs.s3 --port 9000 --state-dir DIR [--region us-east-1]

What the native runtime runs for a minio service when there is no minio
binary. Every object is on disk (fsynced) before its PUT is answered, so
nothing is lost when the process is killed. Speaks path-style and
virtual-host (<bucket>.localhost) requests from boto3, the minio client, the
AWS CLI and JS SDKs:

- buckets: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
  GetBucketVersioning (never enabled), ListMultipartUploads
- objects: PutObject, GetObject / HeadObject (Range, conditional headers,
  response-* overrides), CopyObject, DeleteObject, DeleteObjects, ListObjects,
  ListObjectsV2, GetObjectTagging (empty), object ACLs (public-read or private:
  x-amz-acl, x-amz-grant-read, PutObjectAcl/GetObjectAcl; bucket ACLs are
  accepted and ignored)
- bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy
- multipart: Create, UploadPart, Complete, Abort, ListParts
- auth: SigV4 in headers (signed, unsigned and aws-chunked streaming payloads),
  SigV4 and SigV2 presigned URLs (V2's may carry content-type and x-amz-*
  in the query, as boto3 writes them). Unsigned requests may only read what
  the app made public (a public-read object, a bucket policy allowing anyone
  s3:GetObject or s3:ListBucket: _s3access); anything else is refused with
  403, as MinIO does.
- CORS: any origin (a dev site uploading from the browser), as MinIO does.

Anything else answers 501 NotImplemented, naming what was asked. Chunk
signatures of streaming uploads are not re-checked (the request's own
signature is); versioning, object lock, IAM policies and lifecycle are absent.
"""

from __future__ import annotations

import datetime
import email.utils
import errno
import hmac
import logging
import re
import sqlite3
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from aiohttp import web

from devstack import sigv4
from devstack.stubs import _serve
from devstack.stubs._s3access import acl_from_headers, acl_from_xml, check_policy, policy_decision
from devstack.stubs._s3store import Body, Obj, Store, StoreError

log = logging.getLogger("devstack.stubs.s3")

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Headers kept with an object and given back on GET/HEAD.
STORED_HEADERS = ("content-type", "content-disposition", "content-encoding", "content-language", "cache-control", "expires")
MAX_CLOCK_SKEW = 15 * 60
AUTH_QUERY = ("AWSAccessKeyId", "Signature", "Expires")  # a V2 presigned URL's (V4's all start X-Amz-)
# Query parameters that Signature V2 signs as part of the resource.
V2_SUBRESOURCES = {"acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
                   "requestPayment", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
                   "response-content-type", "response-content-language", "response-expires", "response-cache-control",
                   "response-content-disposition", "response-content-encoding"}
CHUNK = 1 << 16


def xml(root: str, inner: str) -> web.Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'
    return web.Response(body=body.encode(), content_type="application/xml")


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def error(code: str, status: int, message: str, resource: str = "", method: str = "GET") -> web.Response:
    headers = {"x-amz-request-id": uuid.uuid4().hex[:16].upper()}
    if method == "HEAD":  # HEAD answers carry no body
        return web.Response(status=status, headers=headers)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"<Resource>{escape(resource)}</Resource><RequestId>{headers['x-amz-request-id']}</RequestId></Error>")
    return web.Response(status=status, body=body.encode(), content_type="application/xml", headers=headers)


class S3Error(StoreError):
    pass


def not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented", 501, f"The devstack S3 stand-in does not implement {what}; "
                                         "install a minio binary (or use the docker runtime) for the full S3 API.")


# -- authentication ------------------------------------------------------------------------


class Auth:
    """Checks SigV4 (header or presigned query) against the one configured key pair."""

    def __init__(self, access_key: str, secret_key: str):
        self.access_key, self.secret_key = access_key, secret_key

    @staticmethod
    def signed(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return bool(header) or "X-Amz-Signature" in request.query or "AWSAccessKeyId" in request.query

    def check(self, request: web.Request) -> str:
        """Returns the payload hash the signature covers; raises S3Error when it does not match."""
        header = request.headers.get("Authorization", "")
        if header.startswith(sigv4.ALGORITHM):
            fields = dict(part.strip().split("=", 1) for part in header[len(sigv4.ALGORITHM):].split(",") if "=" in part)
            credential, signed, given = fields.get("Credential", ""), fields.get("SignedHeaders", ""), fields.get("Signature", "")
            amz_date = request.headers.get("x-amz-date") or request.headers.get("Date", "")
            payload = request.headers.get("x-amz-content-sha256", "")
            if not payload:
                raise S3Error("InvalidRequest", 400, "Missing required header for this request: x-amz-content-sha256")
            query = [(k, v) for k, v in request.query.items()]
            self._fresh(amz_date)
        elif "X-Amz-Signature" in request.query:
            q = request.query
            if q.get("X-Amz-Algorithm") != sigv4.ALGORITHM:
                raise S3Error("AuthorizationQueryParametersError", 400, "X-Amz-Algorithm must be AWS4-HMAC-SHA256")
            credential, signed, given = q.get("X-Amz-Credential", ""), q.get("X-Amz-SignedHeaders", ""), q["X-Amz-Signature"]
            amz_date, payload = q.get("X-Amz-Date", ""), "UNSIGNED-PAYLOAD"
            query = [(k, v) for k, v in q.items() if k != "X-Amz-Signature"]
            self._unexpired(amz_date, q.get("X-Amz-Expires", "0"))
        elif header.startswith("AWS ") or "AWSAccessKeyId" in request.query:
            return self._check_v2(request, header)
        else:
            raise S3Error("AccessDenied", 403, "Access Denied: the request is not signed (anonymous access is off, as in MinIO)")
        access, _, scope = credential.partition("/")
        if access != self.access_key:
            raise S3Error("InvalidAccessKeyId", 403, "The Access Key Id you provided does not exist in our records.")
        if scope.count("/") != 3:
            raise S3Error("AuthorizationHeaderMalformed", 400, f"Malformed credential scope: {credential!r}")
        names = signed.split(";")
        headers = {name: request.headers.get(name, "") for name in names}
        if "host" in headers and not headers["host"]:
            headers["host"] = request.host
        path = request.raw_path.split("?", 1)[0]
        canonical = sigv4.canonical_request(request.method, path, sigv4.canonical_query(query), headers, names, payload)
        expected = sigv4.signature(self.secret_key, amz_date, scope, canonical)
        if not hmac.compare_digest(expected, given):
            raise S3Error("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. "
                                                       "Check your key and signing method.")
        return payload

    def _check_v2(self, request: web.Request, header: str) -> str:
        """Signature V2: what boto3's generate_presigned_url makes unless told s3v4."""
        import base64

        q = request.query
        if header.startswith("AWS "):
            access, _, given = header[4:].partition(":")
            when = "" if "x-amz-date" in request.headers else request.headers.get("Date", "")
        else:
            access, given, when = q.get("AWSAccessKeyId", ""), q.get("Signature", ""), q.get("Expires", "")
            if not when.isdigit() or time.time() > int(when):
                raise S3Error("AccessDenied", 403, "Request has expired")
        if access != self.access_key:
            raise S3Error("InvalidAccessKeyId", 403, "The Access Key Id you provided does not exist in our records.")
        amz_headers = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-amz-")}
        if not header.startswith("AWS "):
            amz_headers = {**{k.lower(): v for k, v in q.items() if k.lower().startswith("x-amz-")}, **amz_headers}
        amz = "".join(f"{k}:{v.strip()}\n" for k, v in sorted(amz_headers.items()))
        subresources = sorted((k, v) for k, v in q.items() if k in V2_SUBRESOURCES)
        resource = request.raw_path.split("?", 1)[0]
        if subresources:
            resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
        to_sign = "\n".join([request.method, signed_value(request, "Content-MD5") or "", signed_value(request, "Content-Type") or "",
                             when, amz + resource])
        expected = base64.b64encode(hmac.new(self.secret_key.encode(), to_sign.encode(), "sha1").digest()).decode()
        if not hmac.compare_digest(expected, given):
            raise S3Error("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. "
                                                       "Check your key and signing method.")
        return "UNSIGNED-PAYLOAD"

    @staticmethod
    def _parse(amz_date: str) -> float:
        try:
            return datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC).timestamp()
        except ValueError:
            raise S3Error("AccessDenied", 403, f"Invalid or missing X-Amz-Date: {amz_date!r}") from None

    def _fresh(self, amz_date: str) -> None:
        if abs(time.time() - self._parse(amz_date)) > MAX_CLOCK_SKEW:
            raise S3Error("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.")

    def _unexpired(self, amz_date: str, expires: str) -> None:
        try:
            seconds = int(expires)
        except ValueError:
            raise S3Error("AuthorizationQueryParametersError", 400, "X-Amz-Expires must be a number of seconds") from None
        if time.time() > self._parse(amz_date) + seconds:
            raise S3Error("AccessDenied", 403, "Request has expired")


# -- request bodies -------------------------------------------------------------------------


async def receive(request: web.Request, store: Store, payload: str) -> Body:
    """The request body into a Body (decoding aws-chunked uploads); checks a signed hash."""
    body = Body(store)
    try:
        if payload.startswith("STREAMING-") or "aws-chunked" in request.headers.get("Content-Encoding", ""):
            await _receive_chunked(request.content, body)
        else:
            while chunk := await request.content.read(CHUNK):
                body.write(chunk)
        if re.fullmatch(r"[0-9a-f]{64}", payload) and body.sha256.hexdigest() != payload:
            raise S3Error("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
        md5 = request.headers.get("Content-MD5")
        if md5 and _b64(body.md5.digest()) != md5:
            raise S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
        return body
    except BaseException:
        body.discard()
        raise


async def receive_blob(request: web.Request, store: Store, payload: str) -> tuple[str, int, str]:
    """The body made durable in the store: (blob name, size, MD5 ETag)."""
    body = await receive(request, store, payload)
    try:
        return body.finish(), body.size, body.md5.hexdigest()
    except BaseException:
        body.discard()
        raise


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


async def _receive_chunked(stream, body: Body) -> None:
    """aws-chunked: `<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n` ..., a 0-size
    chunk, then optional trailing headers (checksums), which are dropped."""
    while True:
        line = await stream.readline()
        if not line:
            raise S3Error("IncompleteBody", 400, "The request body ended inside an aws-chunked chunk header.")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise S3Error("InvalidRequest", 400, f"Bad aws-chunked chunk header: {line[:60]!r}") from None
        if size == 0:
            while (await stream.readline()).strip():  # trailer lines, up to the empty one
                pass
            return
        remaining = size
        while remaining:
            data = await stream.read(min(remaining, CHUNK))
            if not data:
                raise S3Error("IncompleteBody", 400, "The request body ended inside an aws-chunked chunk.")
            body.write(data)
            remaining -= len(data)
        await stream.readline()  # the \r\n after the data


def signed_value(request: web.Request, name: str) -> str | None:
    """A header; in a SigV2 presigned URL, boto3 puts Content-Type, Content-MD5 and
    x-amz-* in the query instead (a header the uploader sends wins, as it is what S3 reads)."""
    value = request.headers.get(name)
    if value is None and "AWSAccessKeyId" in request.query:
        value = request.query.get(name.lower())
    return value


def request_acl(request: web.Request) -> dict:
    """{"acl": "public-read"} when the request makes its object public, else {} (private)."""
    return {"acl": "public-read"} if acl_from_headers(lambda name: signed_value(request, name)) == "public-read" else {}


def stored_meta(request: web.Request) -> dict:
    meta = {name: value for name in STORED_HEADERS if (value := signed_value(request, name)) is not None}
    meta.setdefault("content-type", "binary/octet-stream")
    user = {k.lower()[len("x-amz-meta-"):]: v for k, v in request.headers.items() if k.lower().startswith("x-amz-meta-")}
    checksums = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-amz-checksum-") and k.lower() != "x-amz-checksum-algorithm"}
    return {**meta, "user": user, "checksums": checksums, **request_acl(request)}


def object_headers(obj: Obj, checksums: bool = False) -> dict:
    headers = {"ETag": f'"{obj.etag}"', "Last-Modified": http_date(obj.modified), "Accept-Ranges": "bytes"}
    headers.update({name.title(): value for name, value in obj.meta.items() if name in STORED_HEADERS})
    headers.update({f"x-amz-meta-{k}": v for k, v in obj.meta.get("user", {}).items()})
    if checksums:
        headers.update(obj.meta.get("checksums", {}))
    return headers


# -- the application ------------------------------------------------------------------------


class S3App:
    def __init__(self, store: Store, auth: Auth, region: str):
        self.store, self.auth, self.region = store, auth, region

    def split(self, request: web.Request) -> tuple[str, str]:
        """(bucket, key) of path-style or virtual-host (<bucket>.localhost) requests."""
        path = urllib.parse.unquote(request.raw_path.split("?", 1)[0])
        host = request.host.rsplit(":", 1)[0] if request.host else ""
        if host.endswith(".localhost"):
            return host[: -len(".localhost")], path.lstrip("/")
        bucket, _, key = path.lstrip("/").partition("/")
        return bucket, key

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        bucket = key = ""
        try:
            if request.method == "OPTIONS":
                response = web.Response(status=200)
            elif request.path in ("/minio/health/live", "/minio/health/ready"):  # MinIO's own, unauthenticated
                response = web.Response(status=200)
            elif not Auth.signed(request):
                bucket, key = self.split(request)
                response = await self.anonymous(request, bucket, key)
            else:
                payload = self.auth.check(request)
                bucket, key = self.split(request)
                response = await self.route(request, payload, bucket, key)
        except StoreError as exc:
            response = error(exc.code, exc.status, exc.message, f"/{bucket}/{key}".rstrip("/") or "/", request.method)
        except (OSError, sqlite3.Error) as exc:  # a full or read-only disk: nothing was stored, say so
            if isinstance(exc, OSError) and exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                raise
            log.error("%s %s: could not store: %s", request.method, request.path, exc)
            full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "full" in str(exc)
            code, status = ("XMinioStorageFull", 507) if full else ("InternalError", 500)
            response = error(code, status, f"The object store could not write its data: {exc}",
                             f"/{bucket}/{key}".rstrip("/") or "/", request.method)
        log.info('%s %s %s %d (%.0f ms)', request.method, request.path_qs[:200], request.headers.get("Content-Length", "-"),
                 response.status, (time.perf_counter() - started) * 1000)
        return response

    async def route(self, request, payload, bucket, key):
        q, method = request.query, request.method
        if not bucket:
            if method == "GET":
                return self.list_buckets()
            raise not_implemented(f"{method} on /")
        if not key:
            return await self.bucket_call(request, payload, bucket, method, q)
        if "uploadId" in q:
            return await self.multipart_call(request, payload, bucket, key, method, q)
        if "uploads" in q and method == "POST":
            upload = self.store.create_upload(bucket, key, stored_meta(request))
            return xml("InitiateMultipartUploadResult", f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><UploadId>{upload}</UploadId>")
        if "tagging" in q and method == "GET":
            self.store.get(bucket, key)
            return xml("Tagging", "<TagSet></TagSet>")
        if "acl" in q:
            return await self.acl(request, payload, bucket, key, method)
        unknown = {k for k in q if k not in ("versionId", "partNumber", "x-id", *AUTH_QUERY) and not k.startswith(("response-", "X-Amz-"))
                   and not ("AWSAccessKeyId" in q and (k in ("content-type", "content-md5") or k.startswith("x-amz-")))}
        if unknown:
            raise not_implemented(f"{method} ?{'&'.join(sorted(unknown))} on objects")
        if method == "PUT":
            if "x-amz-copy-source" in request.headers:
                return self.copy_object(request, bucket, key)
            return await self.put_object(request, payload, bucket, key)
        if method in ("GET", "HEAD"):
            return await self.get_object(request, bucket, key)
        if method == "DELETE":
            self.store.delete(bucket, key)
            return web.Response(status=204)
        raise not_implemented(f"{method} on objects")

    # -- buckets ---------------------------------------------------------------------------
    def list_buckets(self):
        items = "".join(f"<Bucket><Name>{escape(name)}</Name><CreationDate>{iso(created)}</CreationDate></Bucket>"
                        for name, created in self.store.buckets())
        return xml("ListAllMyBucketsResult", f"<Owner><ID>devstack</ID><DisplayName>devstack</DisplayName></Owner><Buckets>{items}</Buckets>")

    async def bucket_call(self, request, payload, bucket, method, q):
        if method == "PUT" and not q:
            return await self.create_bucket(request, payload, bucket)
        if method == "HEAD":
            return web.Response(headers={"x-amz-bucket-region": self.store.bucket_region(bucket)})
        if method == "DELETE" and not q:
            self.store.delete_bucket(bucket)
            return web.Response(status=204)
        if method == "POST" and "delete" in q:
            return await self.delete_objects(request, payload, bucket)
        if "policy" in q and method in ("PUT", "GET", "DELETE"):
            return await self.policy(request, payload, bucket, method)
        if "acl" in q and method == "PUT":
            return await self.acl(request, payload, bucket, "", method)
        if method == "GET":
            if "location" in q:
                region = self.store.bucket_region(bucket)
                return xml("LocationConstraint", "" if region == "us-east-1" else escape(region))
            if "versioning" in q:
                self.store.require_bucket(bucket)
                return xml("VersioningConfiguration", "")
            if "uploads" in q:
                return self.list_uploads(bucket)
            if "acl" in q:
                return await self.acl(request, payload, bucket, "", method)
            known = {"list-type", "prefix", "delimiter", "max-keys", "marker", "continuation-token", "start-after",
                     "encoding-type", "fetch-owner", "x-id"}
            unknown = {k for k in q if k not in known and k not in AUTH_QUERY and not k.startswith("X-Amz-")}
            if unknown:
                raise not_implemented(f"GET ?{'&'.join(sorted(unknown))} on buckets")
            return self.list_objects(bucket, q)
        raise not_implemented(f"{method} ?{'&'.join(sorted(q))} on buckets")

    async def create_bucket(self, request, payload, bucket):
        if not BUCKET_NAME.match(bucket) or ".." in bucket:
            raise S3Error("InvalidBucketName", 400, f"The specified bucket is not valid: {bucket!r}")
        body = await receive(request, self.store, payload)
        try:
            config = body.content()
        finally:
            body.discard()
        match = re.search(rb"<LocationConstraint>([^<]*)</LocationConstraint>", config)
        self.store.create_bucket(bucket, match.group(1).decode() if match and match.group(1) else self.region)
        return web.Response(headers={"Location": f"/{bucket}"})

    async def acl(self, request, payload, bucket, key, method):
        """Object ACLs are public-read or private (what anonymous reads need); bucket
        ACLs are accepted and ignored (a bucket policy makes a bucket public)."""
        obj = self.store.get(bucket, key) if key else self.store.require_bucket(bucket)
        if method == "PUT":
            body = await receive(request, self.store, payload)
            try:
                content = body.content()
            finally:
                body.discard()
            acl = acl_from_headers(request.headers.get) or (acl_from_xml(content) if content.strip() else None)
            if key and acl:
                meta = {k: v for k, v in obj.meta.items() if k != "acl"}
                self.store.set_meta(bucket, key, {**meta, "acl": acl} if acl == "public-read" else meta)
            return web.Response()
        owner = "<ID>devstack</ID><DisplayName>devstack</DisplayName>"
        xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        grants = f'<Grant><Grantee {xsi} xsi:type="CanonicalUser">{owner}</Grantee><Permission>FULL_CONTROL</Permission></Grant>'
        if key and obj.meta.get("acl") == "public-read":
            grants += (f'<Grant><Grantee {xsi} xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>'
                       "<Permission>READ</Permission></Grant>")
        return xml("AccessControlPolicy", f"<Owner>{owner}</Owner><AccessControlList>{grants}</AccessControlList>")

    async def policy(self, request, payload, bucket, method):
        if method == "GET":
            policy = self.store.bucket_policy(bucket)
            if policy is None:
                raise S3Error("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
            return web.Response(body=policy.encode(), content_type="application/json")
        if method == "DELETE":
            self.store.set_bucket_policy(bucket, None)
            return web.Response(status=204)
        body = await receive(request, self.store, payload)
        try:
            text = body.content().decode("utf-8", errors="replace")
        finally:
            body.discard()
        check_policy(text)
        self.store.set_bucket_policy(bucket, text)
        return web.Response(status=204)

    async def anonymous(self, request, bucket, key):
        """An unsigned request: only a read of what the app made public."""
        denied = S3Error("AccessDenied", 403, "Access Denied: the request is not signed and what it asks for is not public "
                                              "(a public-read ACL or a bucket policy makes it so; anonymous access is off otherwise, as in MinIO)")
        if request.method not in ("GET", "HEAD") or not bucket or not self.store.has_bucket(bucket):
            raise denied
        policy, q = self.store.bucket_policy(bucket), request.query
        listing = policy_decision(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}") == "Allow"
        if not key:
            if listing and not set(q) - {"list-type", "prefix", "delimiter", "max-keys", "marker", "continuation-token",
                                         "start-after", "encoding-type", "fetch-owner"}:
                return self.list_objects(bucket, q)
            raise denied
        if any(k not in ("versionId", "partNumber") and not k.startswith("response-") for k in q):
            raise denied
        decision = policy_decision(policy, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        if decision == "Deny":
            raise denied
        try:
            obj = self.store.get(bucket, key)
        except StoreError:
            if decision == "Allow" and listing:  # S3 tells a missing key apart only to who may list
                raise
            raise denied from None
        if decision == "Allow" or obj.meta.get("acl") == "public-read":
            return await self.get_object(request, bucket, key)
        raise denied

    def list_objects(self, bucket, q):
        v2 = q.get("list-type") == "2"
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        try:
            limit = max(0, min(int(q.get("max-keys", "1000")), 1000))
        except ValueError:
            raise S3Error("InvalidArgument", 400, "max-keys must be a number") from None
        if v2:
            token = q.get("continuation-token")
            after = _decode_token(token) if token else q.get("start-after", "")
        else:
            after = q.get("marker", "")
        objects, prefixes, truncated, resume = self.store.listing(bucket, prefix, delimiter, after, limit)
        url = q.get("encoding-type") == "url"

        def enc(text: str) -> str:
            return escape(urllib.parse.quote(text, safe="/") if url else text)

        owner = "<Owner><ID>devstack</ID><DisplayName>devstack</DisplayName></Owner>" if (not v2 or q.get("fetch-owner") == "true") else ""
        contents = "".join(f"<Contents><Key>{enc(o.key)}</Key><LastModified>{iso(o.modified)}</LastModified>"
                           f"<ETag>&quot;{o.etag}&quot;</ETag><Size>{o.size}</Size>{owner}<StorageClass>STANDARD</StorageClass></Contents>"
                           for o in objects)
        common = "".join(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in prefixes)
        head = (f"<Name>{escape(bucket)}</Name><Prefix>{enc(prefix)}</Prefix><MaxKeys>{limit}</MaxKeys>"
                + (f"<Delimiter>{enc(delimiter)}</Delimiter>" if delimiter else "")
                + ("<EncodingType>url</EncodingType>" if url else "")
                + f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        if v2:
            head += f"<KeyCount>{len(objects) + len(prefixes)}</KeyCount>"
            if q.get("continuation-token"):
                head += f"<ContinuationToken>{escape(q['continuation-token'])}</ContinuationToken>"
            if q.get("start-after"):
                head += f"<StartAfter>{enc(q['start-after'])}</StartAfter>"
            if truncated:
                head += f"<NextContinuationToken>{_encode_token(resume)}</NextContinuationToken>"
        else:
            head += f"<Marker>{enc(after)}</Marker>"
            if truncated and delimiter:
                head += f"<NextMarker>{enc(resume.rstrip(chr(0x10FFFF)))}</NextMarker>"
        return xml("ListBucketResult", head + contents + common)

    def list_uploads(self, bucket):
        items = "".join(f"<Upload><Key>{escape(key)}</Key><UploadId>{upload}</UploadId><Initiated>{iso(created)}</Initiated>"
                        "<StorageClass>STANDARD</StorageClass></Upload>" for key, upload, created in self.store.uploads(bucket))
        return xml("ListMultipartUploadsResult", f"<Bucket>{escape(bucket)}</Bucket><IsTruncated>false</IsTruncated>{items}")

    async def delete_objects(self, request, payload, bucket):
        import xml.etree.ElementTree as ET

        body = await receive(request, self.store, payload)
        try:
            root = ET.fromstring(body.content())
        except ET.ParseError:
            raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed.") from None
        finally:
            body.discard()
        quiet = (root.findtext("{*}Quiet") or "").lower() == "true"
        self.store.require_bucket(bucket)
        done = []
        for item in root.iter():
            if item.tag.rsplit("}", 1)[-1] == "Object":
                key = item.findtext("{*}Key") or ""
                self.store.delete(bucket, key)
                done.append(key)
        inner = "" if quiet else "".join(f"<Deleted><Key>{escape(k)}</Key></Deleted>" for k in done)
        return xml("DeleteResult", inner)

    # -- objects ---------------------------------------------------------------------------
    async def put_object(self, request, payload, bucket, key):
        self.store.require_bucket(bucket)
        if request.headers.get("If-None-Match") == "*":
            try:
                self.store.get(bucket, key)
                raise S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
            except StoreError as exc:
                if exc.code != "NoSuchKey":
                    raise
        blob, size, etag = await receive_blob(request, self.store, payload)
        obj = self.store.put(bucket, key, blob, size, etag, stored_meta(request))
        return web.Response(headers={"ETag": f'"{obj.etag}"', **obj.meta.get("checksums", {})})

    def copy_object(self, request, bucket, key):
        source = urllib.parse.unquote(request.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        original = self.store.get(src_bucket, src_key)
        match = request.headers.get("x-amz-copy-source-if-match")
        if match and match.strip('"') != original.etag:
            raise S3Error("PreconditionFailed", 412, "x-amz-copy-source-if-match did not hold")
        if request.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE":
            meta = stored_meta(request)
        elif (src_bucket, src_key) == (bucket, key):
            raise S3Error("InvalidRequest", 400, "This copy request is illegal because it is trying to copy an object to itself "
                                                 "without changing the object's metadata.")
        else:
            meta = {**{k: v for k, v in original.meta.items() if k != "acl"}, **request_acl(request)}  # S3 never copies an ACL
        obj = self.store.copy(original, bucket, key, meta)
        return xml("CopyObjectResult", f"<LastModified>{iso(obj.modified)}</LastModified><ETag>&quot;{obj.etag}&quot;</ETag>")

    async def get_object(self, request, bucket, key):
        obj = self.store.get(bucket, key)
        # A whole-object checksum means nothing to a client reading a range.
        checksums = request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and "Range" not in request.headers
        headers = object_headers(obj, checksums=checksums)
        for name, value in request.query.items():  # presigned links set how a browser saves the file
            if name.startswith("response-") and name != "response-":
                headers[name[len("response-"):].title()] = value
        status = _precondition(request, obj)
        if status:
            return web.Response(status=status, headers={k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")})
        start, end = 0, obj.size - 1
        spec = request.headers.get("Range")
        if spec:
            start, end = _range(spec, obj.size)
            headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
        length = max(0, end - start + 1)
        response = web.StreamResponse(status=206 if spec else 200, headers=headers)
        response.content_length = length
        await response.prepare(request)
        if request.method == "GET" and length:
            with open(self.store.blob_path(obj.blob), "rb") as handle:
                handle.seek(start)
                while length > 0:
                    chunk = handle.read(min(CHUNK * 4, length))
                    if not chunk:
                        break
                    await response.write(chunk)
                    length -= len(chunk)
        await response.write_eof()
        return response

    # -- multipart -------------------------------------------------------------------------
    async def multipart_call(self, request, payload, bucket, key, method, q):
        upload = q["uploadId"]
        if method == "PUT":
            if "x-amz-copy-source" in request.headers:
                raise not_implemented("UploadPartCopy")
            try:
                number = int(q.get("partNumber", ""))
            except ValueError:
                raise S3Error("InvalidArgument", 400, "partNumber must be a number from 1 to 10000") from None
            self.store.upload(bucket, upload)
            blob, size, etag = await receive_blob(request, self.store, payload)
            self.store.put_part(bucket, upload, number, blob, size, etag)
            return web.Response(headers={"ETag": f'"{etag}"'})
        if method == "POST":
            import xml.etree.ElementTree as ET

            body = await receive(request, self.store, payload)
            try:
                root = ET.fromstring(body.content())
                wanted = [(int(part.findtext("{*}PartNumber")), part.findtext("{*}ETag") or "") for part in root.iter()
                          if part.tag.rsplit("}", 1)[-1] == "Part"]
            except (ET.ParseError, TypeError, ValueError):
                raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed.") from None
            finally:
                body.discard()
            obj = self.store.complete_upload(bucket, upload, wanted)
            return xml("CompleteMultipartUploadResult", f"<Location>/{escape(bucket)}/{escape(key)}</Location><Bucket>{escape(bucket)}</Bucket>"
                                                        f"<Key>{escape(key)}</Key><ETag>&quot;{obj.etag}&quot;</ETag>")
        if method == "DELETE":
            self.store.abort_upload(bucket, upload)
            return web.Response(status=204)
        if method == "GET":
            self.store.upload(bucket, upload)
            parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>&quot;{etag}&quot;</ETag><Size>{size}</Size></Part>"
                            for n, _, size, etag in self.store.parts(upload))
            return xml("ListPartsResult", f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><UploadId>{upload}</UploadId>"
                                          f"<IsTruncated>false</IsTruncated>{parts}")
        raise not_implemented(f"{method} on multipart uploads")


def _encode_token(resume: str) -> str:
    import base64

    return base64.urlsafe_b64encode(resume.encode()).decode()


def _decode_token(token: str) -> str:
    import base64
    import binascii

    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise S3Error("InvalidArgument", 400, "The continuation token provided is incorrect") from None


def _precondition(request, obj: Obj) -> int:
    """304/412 for If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since (0: go on)."""
    etag = f'"{obj.etag}"'
    match, none_match = request.headers.get("If-Match"), request.headers.get("If-None-Match")
    if match and match.strip() not in ("*", etag, obj.etag):
        return 412
    if none_match and none_match.strip() in ("*", etag, obj.etag):
        return 304
    since = request.if_modified_since
    if since and not none_match and int(obj.modified) <= since.timestamp():
        return 304
    unmodified = request.if_unmodified_since
    if unmodified and not match and int(obj.modified) > unmodified.timestamp():
        return 412
    return 0


def _range(spec: str, size: int) -> tuple[int, int]:
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
    if not match or match.groups() == ("", ""):
        raise S3Error("InvalidRange", 416, "The requested range is not satisfiable")
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise S3Error("InvalidRange", 416, "The requested range is not satisfiable")
    return start, end


@web.middleware
async def cors(request: web.Request, handler):
    """Any origin may call (a dev site uploading from the browser), as MinIO allows by default."""
    response = await handler(request)
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = "ETag, x-amz-request-id, x-amz-version-id, Content-Range, Content-Length"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, PUT, POST, DELETE, HEAD"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers", "*")
            response.headers["Access-Control-Max-Age"] = "3600"
    return response


def build_app(state_dir: str, access_key: str, secret_key: str, region: str) -> web.Application:
    store = Store(f"{state_dir}/data")
    s3 = S3App(store, Auth(access_key, secret_key), region)
    app = web.Application(middlewares=[cors], client_max_size=1 << 40)
    app.router.add_route("*", "/{tail:.*}", s3.handle)

    async def close(_app):
        store.close()

    app.on_cleanup.append(close)
    return app


def main(argv=None) -> None:
    p = _serve.arg_parser("s3", __doc__)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--region", default="us-east-1")
    args = p.parse_args(argv)
    _serve.setup_logging("s3")
    access_key, secret_key = _serve.env_secret("DEVSTACK_S3_ACCESS_KEY"), _serve.env_secret("DEVSTACK_S3_SECRET_KEY")
    if not access_key or not secret_key:
        raise SystemExit("devstack S3 stand-in: set DEVSTACK_S3_ACCESS_KEY and DEVSTACK_S3_SECRET_KEY")
    app = build_app(_serve.state_dir(args.state_dir), access_key, secret_key, args.region)
    _serve.run(lambda: _serve.start_app(app, args.host, args.port))


if __name__ == "__main__":
    main()
