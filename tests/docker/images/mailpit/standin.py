#!/usr/bin/python3
"""Minimal stand-in for axllent/mailpit, for tests on machines that cannot pull it.

    /mailpit           run the server: SMTP on MP_SMTP_BIND_ADDR (default 0.0.0.0:1025),
                       HTTP on MP_UI_BIND_ADDR (default 0.0.0.0:8025)
    /mailpit readyz    exit 0 if http://127.0.0.1:<ui port>/readyz answers 200, else 1

SMTP takes AUTH PLAIN/LOGIN without TLS (MP_SMTP_AUTH_ALLOW_INSECURE is always
"on") and keeps messages in memory. With MP_SMTP_AUTH ("user:password ...", as
mailpit reads it) only those logins are accepted (535 otherwise) and MAIL before a
login answers 530, as mailpit does; without it any login (or none) is accepted.
Standard library only: the real mailpit, a Go binary, answers within
milliseconds of starting, and so does this.
HTTP API (a subset of mailpit's):
    GET    /readyz, /livez                  -> 200
    GET    /api/v1/messages                 -> {"total", "count", "messages_count", "start",
                                                "unread", "tags", "messages": [summary...]}
    GET    /api/v1/message/{ID}             -> summary + "Text", "HTML", "Headers"-less body
    DELETE /api/v1/messages                 -> delete all (or {"IDs": [...]})
Unknown command-line flags (e.g. --smtp-auth-accept-any) are ignored.
"""

import os
import signal
import sys

# Everything else is imported where it is first needed: the stand-in must be
# listening as soon after its start as the real mailpit (a Go binary) is.



def _split_addr(value, default_host, default_port):
    value = (value or "").strip()
    if not value:
        return default_host, default_port
    host, _, port = value.rpartition(":")
    return (host.strip("[]") or default_host), int(port or default_port)


SMTP_HOST, SMTP_PORT = _split_addr(os.environ.get("MP_SMTP_BIND_ADDR"), "0.0.0.0", 1025)
UI_HOST, UI_PORT = _split_addr(os.environ.get("MP_UI_BIND_ADDR"), "0.0.0.0", 8025)


def readyz() -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{UI_PORT}/readyz", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except Exception:
        return 1


def _addresses(header_value):
    import email.utils

    if not header_value:
        return []
    return [{"Name": name, "Address": addr}
            for name, addr in email.utils.getaddresses([str(header_value)]) if addr]


def _bodies(msg):
    text, html = "", ""
    try:
        part = msg.get_body(preferencelist=("plain",))
        if part is not None:
            text = part.get_content()
        part = msg.get_body(preferencelist=("html",))
        if part is not None:
            html = part.get_content()
    except Exception:
        payload = msg.get_payload(decode=True)
        if isinstance(payload, bytes):
            text = payload.decode("utf-8", "replace")
    return text, html


class Store:
    def __init__(self):
        self.messages = []  # newest first

    def add(self, envelope):
        import datetime as _dt
        import email
        import email.policy
        import uuid

        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text, html = _bodies(msg)
        from_list = _addresses(msg.get("From")) or [{"Name": "", "Address": envelope.mail_from or ""}]
        to_list = _addresses(msg.get("To")) or [{"Name": "", "Address": a} for a in envelope.rcpt_tos]
        item = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(msg.get("Message-ID", "") or "").strip("<>"),
            "Read": False,
            "From": from_list[0],
            "To": to_list,
            "Cc": _addresses(msg.get("Cc")),
            "Bcc": [],
            "ReplyTo": _addresses(msg.get("Reply-To")),
            "Subject": str(msg.get("Subject", "") or ""),
            "Created": _dt.datetime.now(_dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "Tags": [],
            "Size": len(raw),
            "Attachments": sum(1 for _ in msg.iter_attachments()) if msg.is_multipart() else 0,
            "Snippet": " ".join(text.split())[:250],
            "_text": text,
            "_html": html,
            "_envelope": {"From": envelope.mail_from, "To": list(envelope.rcpt_tos)},
        }
        self.messages.insert(0, item)
        return item

    @staticmethod
    def summary(item):
        return {k: v for k, v in item.items() if not k.startswith("_")}


class Envelope:
    def __init__(self):
        self.mail_from, self.rcpt_tos, self.content, self.original_content = "", [], b"", None


def smtp_logins():
    """MP_SMTP_AUTH's space-separated user:password pairs; None: accept any."""
    value = os.environ.get("MP_SMTP_AUTH", "").split()
    return {user: password for user, _, password in (pair.partition(":") for pair in value)} if value else None


def make_smtp_handler(store):
    """Just enough SMTP for apps and tests (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT,
    DATA, RSET, NOOP, QUIT) on the standard library: like the real mailpit, the
    stand-in answers within milliseconds of starting."""
    import base64
    import hmac
    import socketserver

    logins = smtp_logins()

    def accepted(user, password):
        return logins is None or (user in logins and hmac.compare_digest(logins[user].encode(), password.encode()))

    def b64(line):
        try:
            return base64.b64decode(line.strip(), validate=True).decode("utf-8", "replace")
        except ValueError:
            return None

    class Smtp(socketserver.StreamRequestHandler):
        def reply(self, line):
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self):
            envelope = Envelope()
            authenticated = False
            self.reply("220 mailpit ESMTP stand-in")
            while True:
                raw = self.rfile.readline(65536)
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    self.wfile.write(b"250-mailpit\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n")
                elif verb == "HELO":
                    self.reply("250 mailpit")
                elif verb == "AUTH":
                    mechanism, _, initial = arg.partition(" ")
                    if mechanism.upper() == "LOGIN":
                        user = b64(initial) if initial else None
                        if user is None:
                            self.reply("334 VXNlcm5hbWU6")
                            user = b64(self.rfile.readline().decode("utf-8", "replace"))
                        self.reply("334 UGFzc3dvcmQ6")
                        password = b64(self.rfile.readline().decode("utf-8", "replace"))
                    elif mechanism.upper() == "PLAIN":
                        if not initial:
                            self.reply("334 ")
                            initial = self.rfile.readline().decode("utf-8", "replace")
                        parts = (b64(initial) or "").split("\0")
                        user, password = (parts[1], parts[2]) if len(parts) == 3 else (None, None)
                    else:
                        self.reply("504 5.5.4 Unrecognized authentication type")
                        continue
                    if user is not None and password is not None and accepted(user, password):
                        authenticated = True
                        self.reply("235 2.7.0 Authentication successful")
                    else:
                        self.reply("535 5.7.8 Authentication credentials invalid")
                elif verb == "MAIL" and logins is not None and not authenticated:
                    self.reply("530 5.7.0 Authentication required")
                elif verb == "MAIL":
                    envelope = Envelope()
                    envelope.mail_from = arg.partition(":")[2].strip().split(" ")[0].strip("<>")
                    self.reply("250 OK")
                elif verb == "RCPT":
                    envelope.rcpt_tos.append(arg.partition(":")[2].strip().split(" ")[0].strip("<>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        data = self.rfile.readline(1 << 20)
                        if not data or data in (b".\r\n", b".\n"):
                            break
                        lines.append(data[1:] if data.startswith(b"..") else data)
                    envelope.content = b"".join(lines)
                    item = store.add(envelope)
                    print(f"smtp: stored {item['ID']} from {item['From']['Address']} "
                          f"to {[t['Address'] for t in item['To']]} subject {item['Subject']!r}", flush=True)
                    self.reply("250 OK")
                    envelope = Envelope()
                elif verb == "RSET":
                    envelope = Envelope()
                    self.reply("250 OK")
                elif verb == "NOOP":
                    self.reply("250 OK")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("502 Command not implemented")

    return Smtp


def make_handler(store):
    """mailpit's HTTP API subset on the standard library's http.server: the real
    mailpit (a Go binary) answers within milliseconds of starting, and aiohttp's
    import alone cost this stand-in ~0.1 s more than that."""
    import http.server
    import json
    import urllib.parse

    class Api(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path in ("/readyz", "/livez"):
                return self.send(200, b"OK", "text/plain")
            if url.path == "/api/v1/messages":
                query = dict(urllib.parse.parse_qsl(url.query))
                try:
                    start = max(0, int(query.get("start", "0")))
                    limit = int(query.get("limit", "50"))
                except ValueError:
                    return self.send(400, {"error": "bad start/limit"})
                msgs = store.messages
                page = msgs[start:start + limit] if limit > 0 else msgs[start:]
                return self.send(200, {
                    "total": len(msgs),
                    "unread": sum(1 for m in msgs if not m["Read"]),
                    "count": len(page),
                    "messages_count": len(msgs),
                    "start": start,
                    "tags": [],
                    "messages": [Store.summary(m) for m in page],
                })
            if url.path.startswith("/api/v1/message/"):
                mid = url.path[len("/api/v1/message/"):]
                for m in store.messages:
                    if m["ID"] == mid or (mid == "latest" and m is store.messages[0]):
                        m["Read"] = True
                        body = Store.summary(m)
                        body.update({"Text": m["_text"], "HTML": m["_html"]})
                        return self.send(200, body)
                return self.send(404, b"message not found", "text/plain")
            return self.send(404, b"not found", "text/plain")

        def do_DELETE(self):
            if urllib.parse.urlsplit(self.path).path != "/api/v1/messages":
                return self.send(404, b"not found", "text/plain")
            ids = None
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                try:
                    ids = json.loads(self.rfile.read(length)).get("IDs")
                except Exception:
                    ids = None
            if ids:
                store.messages[:] = [m for m in store.messages if m["ID"] not in set(ids)]
            else:
                store.messages.clear()
            return self.send(200, b"ok", "text/plain")

    return Api


def serve():
    import socketserver
    import threading

    # First: as PID 1 in its container, SIGTERM is ignored until a handler is set
    # (`docker stop` would then wait its full timeout).
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = Store()
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    smtp = socketserver.ThreadingTCPServer((SMTP_HOST, SMTP_PORT), make_smtp_handler(store))
    # Both ports listen at once; http.server (~50 ms to import) loads while SMTP
    # already answers, and the first HTTP request waits for it if it must.
    handler = []

    def api_handler(*args):
        if not handler:
            handler.append(make_handler(store))
        return handler[0](*args)

    api = socketserver.ThreadingTCPServer((UI_HOST, UI_PORT), api_handler)
    # The servers' threads share the store; list operations on it are atomic enough here.
    for server in (smtp, api):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    import http.server  # noqa: F401 - loaded here, off the request path
    print(f"mailpit stand-in: SMTP on {SMTP_HOST}:{SMTP_PORT}, HTTP on {UI_HOST}:{UI_PORT}", flush=True)

    stop.wait()  # then exit: messages live in memory, and serve_forever's polls would cost up to 1 s


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    if args and args[0] == "readyz":
        return readyz()
    if args and args[0] in ("version", "help"):
        print("mailpit stand-in (devstack tests)")
        return 0
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
