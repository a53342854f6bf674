"""Protocol probes shared by the kinds' ready() checks (short timeouts, no retries)."""

from __future__ import annotations

import json
import os
import socket
import struct
import urllib.error
import urllib.request

from devstack.services.base import NotReady

TIMEOUT = 2.0


def http(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None, expect=(200,)) -> bytes:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            if response.status not in expect:
                raise NotReady(f"{url} answered {response.status}")
            return response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in expect:
            return exc.read()
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
