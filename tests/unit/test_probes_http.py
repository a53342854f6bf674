"""devstack.probes' plain-HTTP client (written by hand so `up` does not import
urllib.request), against a real HTTP/1.1 server on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack import probes
from devstack.errors import NotReady


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"", b"world"):
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/garbage":
            self.wfile.write(b"SSH-2.0-OpenSSH\r\n")
            return
        status = 200 if self.path.startswith("/ok") else 404
        body = f"{self.headers['Host']} {self.path}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen", self.headers.get("Authorization", "-"))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[::-1])

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "123")
        self.end_headers()


@pytest.fixture(scope="module")
def base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_get_sends_host_headers_and_query(base):
    status, headers, body = probes.http_call(base + "/ok?a=1&b=%20", headers={"Authorization": "Bearer sk"})
    assert status == 200 and headers["X-Seen"] == "Bearer sk"
    assert body.decode() == f"{base[len('http://'):]} /ok?a=1&b=%20"


def test_chunked_body_is_joined(base):
    assert probes.http(base + "/chunked") == b"hello world"


def test_post_body_and_expected_statuses(base):
    assert probes.http_call(base + "/x", method="POST", body=b"abc", expect=(201,))[2] == b"cba"
    assert probes.http_call(base + "/missing", expect=(404,))[0] == 404
    assert probes.http_call(base + "/ok", method="HEAD")[2] == b""


def test_unexpected_status_wrong_protocol_and_nothing_listening_are_not_ready(base):
    with pytest.raises(NotReady, match="answered 404"):
        probes.http(base + "/missing")
    with pytest.raises(NotReady, match="not an HTTP answer"):
        probes.http(base + "/garbage")
    with pytest.raises(NotReady):
        probes.http("http://127.0.0.1:1/healthz")
