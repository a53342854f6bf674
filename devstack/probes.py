"""Protocol probes shared by the kinds' ready() checks (short timeouts, no retries)."""

from __future__ import annotations

import json
import os
import socket
import struct

from devstack.errors import NotReady

TIMEOUT = 2.0


def http(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None, expect=(200,)) -> bytes:
    return http_call(url, method, headers, body, expect)[2]


def http_call(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None,
              expect=(200,)) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; NotReady unless the status is expected.

    Plain http:// is spoken over a socket by hand (one HTTP/1.1 request,
    `Connection: close`): urllib.request imports http.client, email and ssl,
    ~40 ms of CPU that every `up` paid on its critical path for a few bytes.
    https:// goes through urllib."""
    if not url.startswith("http://"):
        return _urllib_call(url, method, headers, body, expect)
    netloc, host, port, target = _split_http_url(url)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {netloc}", "Connection: close", "Accept-Encoding: identity"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=TIMEOUT) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise NotReady(f"{url}: {exc}") from None
    status, answer_headers, payload = _parse_http_response(b"".join(chunks), url)
    if status not in expect:
        raise NotReady(f"{url} answered {status}")
    return status, answer_headers, payload


def _split_http_url(url: str) -> tuple[str, str, int, str]:
    """netloc (the Host header, as signed by SigV4), host, port, request target."""
    rest = url[len("http://"):]
    netloc, slash, path = rest.partition("/")
    if "?" in netloc:  # http://host:port?query
        netloc, _, query = netloc.partition("?")
        slash, path = "/", "?" + query
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        host, _, port = netloc.partition("]")
        host, port = host + "]", port.lstrip(":")
    else:
        host, _, port = netloc.partition(":")
    try:
        return netloc, host, int(port or 80), slash + path if slash else "/"
    except ValueError:
        raise NotReady(f"{url}: not a URL with a port") from None


def _parse_http_response(data: bytes, url: str) -> tuple[int, dict[str, str], bytes]:
    head, sep, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise NotReady(f"{url}: not an HTTP answer ({data[:40]!r})")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    if "chunked" in {k.lower(): v for k, v in headers.items()}.get("transfer-encoding", "").lower():
        payload = _dechunk(payload)
    return int(parts[1]), headers, payload


def _dechunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(data[:size])
        data = data[size + 2:]
    return b"".join(out)


def _urllib_call(url, method, headers, body, expect):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            if response.status not in expect:
                raise NotReady(f"{url} answered {response.status}")
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in expect:
            return exc.code, dict(exc.headers.items()), exc.read()
        raise NotReady(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise NotReady(f"{url}: {getattr(exc, 'reason', exc)}") from None


def http_json(url: str, **kwargs):
    return json.loads(http(url, **kwargs) or b"null")


def smtp_ehlo(host: str, port: int) -> None:
    import smtplib

    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
            code, _ = smtp.ehlo("devstack.local")
            if code != 250:
                raise NotReady(f"SMTP EHLO answered {code}")
    except (OSError, smtplib.SMTPException) as exc:
        raise NotReady(f"SMTP {host}:{port}: {exc}") from None


def stun_binding(host: str, port: int) -> tuple[str, int]:
    """RFC 5389 Binding request over UDP; returns the mapped address."""
    txid = os.urandom(12)
    request = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, txid)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT / 2)
        try:
            sock.sendto(request, (host, port))
            data, _ = sock.recvfrom(2048)
        except OSError as exc:
            raise NotReady(f"STUN {host}:{port}: {exc}") from None
    kind, length, cookie, rtxid = struct.unpack("!HHI12s", data[:20])
    if kind != 0x0101 or rtxid != txid:
        raise NotReady(f"STUN {host}:{port}: unexpected reply type {kind:#x}")
    offset = 20
    while offset + 4 <= 20 + length:
        atype, alen = struct.unpack("!HH", data[offset:offset + 4])
        value = data[offset + 4:offset + 4 + alen]
        if atype == 0x0020:  # XOR-MAPPED-ADDRESS
            xport = struct.unpack("!H", value[2:4])[0] ^ (0x2112A442 >> 16)
            xaddr = struct.unpack("!I", value[4:8])[0] ^ 0x2112A442
            return socket.inet_ntoa(struct.pack("!I", xaddr)), xport
        offset += 4 + alen + (-alen % 4)
    return host, port


PG_PROTOCOL_3 = 196608
PG_STARTING_UP = b"C57P03\0"  # SQLSTATE cannot_connect_now, in an ErrorResponse


def pg_accepting(host: str, port: int, user: str, database: str) -> None:
    """pg_isready's question, without starting a process: does the server take
    connections yet? A startup packet; 'R' (authentication request) is yes.

    NotReady while nothing answers or the server says it is starting up; any
    other refusal passes, so the real login that follows reports it.
    """
    params = b"".join(key + b"\0" + value.encode() + b"\0" for key, value in ((b"user", user), (b"database", database)))
    packet = struct.pack("!ii", 8 + len(params) + 1, PG_PROTOCOL_3) + params + b"\0"
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            sock.sendall(packet)
            reply = sock.recv(1024)
    except OSError as exc:
        raise NotReady(f"PostgreSQL {host}:{port}: {exc}") from None
    if not reply:
        raise NotReady(f"PostgreSQL {host}:{port}: closed the connection (not listening yet)")
    if reply[:1] == b"E" and PG_STARTING_UP in reply:
        raise NotReady(f"PostgreSQL {host}:{port}: the database system is starting up")


def redis_ping(host: str, port: int, password: str | None = None, db: int = 0) -> None:
    """AUTH + PING in RESP over a plain socket (no client library to import)."""

    def command(*parts) -> bytes:
        out = [f"*{len(parts)}\r\n".encode()]
        for part in parts:
            data = str(part).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            request = (command("AUTH", password) if password else b"") + command("PING")
            sock.sendall(request)
            reply = b""
            expected = 2 if password else 1
            while reply.count(b"\r\n") < expected:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError as exc:
        raise NotReady(f"redis {host}:{port}: {exc}") from None
    lines = reply.split(b"\r\n")
    if any(line.startswith(b"-") for line in lines[:expected]):
        error = next(line for line in lines if line.startswith(b"-"))
        raise NotReady(f"redis {host}:{port}: {error[1:].decode(errors='replace')}")
    if b"+PONG" not in lines:
        raise NotReady(f"redis {host}:{port}: no PONG (got {reply[:60]!r})")


def s3_request(endpoint: str, access_key: str, secret_key: str, region: str, method: str = "GET",
               path: str = "/", body: bytes = b"", expect=(200,), query: dict | None = None,
               headers: dict | None = None) -> bytes:
    """One S3 call signed with AWS Signature V4 (path style), standard library only."""
    return s3_call(endpoint, access_key, secret_key, region, method, path, body, expect, query, headers)[2]


def s3_call(endpoint: str, access_key: str, secret_key: str, region: str, method: str = "GET",
            path: str = "/", body: bytes = b"", expect=(200,), query: dict | None = None,
            headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    """s3_request returning (status, response headers, body). `headers` (Content-Type,
    x-amz-meta-*...) are sent and signed; `path` is the unencoded /bucket/key."""
    import datetime
    import hashlib
    import urllib.parse

    from devstack import sigv4

    parts = urllib.parse.urlsplit(endpoint)
    host = parts.netloc
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_path = sigv4.uri_encode(path, "/-_.~")
    canonical_query = sigv4.canonical_query((k, str(v)) for k, v in (query or {}).items())
    signed_headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed_headers.update({k.lower(): " ".join(str(v).split()) for k, v in (headers or {}).items()})
    if method in ("PUT", "POST"):  # else urllib sends a form's type, and servers read the body as a form
        signed_headers.setdefault("content-type", "application/octet-stream")
    names = sorted(signed_headers)
    scope = f"{day}/{region}/s3/aws4_request"
    canonical = sigv4.canonical_request(method, canonical_path, canonical_query, signed_headers, names, payload_hash)
    signature = sigv4.signature(secret_key, amz_date, scope, canonical)
    signed = ";".join(names)
    signed_headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    del signed_headers["host"]
    url = f"{parts.scheme}://{host}{canonical_path}" + (f"?{canonical_query}" if canonical_query else "")
    return http_call(url, method=method, headers=signed_headers, body=body if method in ("PUT", "POST") else None, expect=expect)


def s3_list_buckets(endpoint: str, access_key: str, secret_key: str, region: str) -> list[str]:
    """ListBuckets: a signed S3 call, so it proves the credentials too."""
    import re

    text = s3_request(endpoint, access_key, secret_key, region).decode(errors="replace")
    return re.findall(r"<Bucket>\s*<Name>([^<]+)</Name>", text)
