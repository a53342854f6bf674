#!/usr/bin/python3
"""Minimal stand-in for axllent/mailpit, for tests on machines that cannot pull it.

    /mailpit           run the server: SMTP on MP_SMTP_BIND_ADDR (default 0.0.0.0:1025),
                       HTTP on MP_UI_BIND_ADDR (default 0.0.0.0:8025)
    /mailpit readyz    exit 0 if http://127.0.0.1:<ui port>/readyz answers 200, else 1

SMTP accepts any AUTH (PLAIN/LOGIN) without TLS and keeps messages in memory
(MP_SMTP_AUTH_ACCEPT_ANY / MP_SMTP_AUTH_ALLOW_INSECURE are therefore always "on").
HTTP API (a subset of mailpit's):
    GET    /readyz, /livez                  -> 200
    GET    /api/v1/messages                 -> {"total", "count", "messages_count", "start",
                                                "unread", "tags", "messages": [summary...]}
    GET    /api/v1/message/{ID}             -> summary + "Text", "HTML", "Headers"-less body
    DELETE /api/v1/messages                 -> delete all (or {"IDs": [...]})
Unknown command-line flags (e.g. --smtp-auth-accept-any) are ignored.
"""

import asyncio
import datetime as _dt
import email
import email.policy
import email.utils
import os
import signal
import sys
import urllib.request
import logging
import uuid

# aiosmtpd 1.4 logs a warning about its own use of Session.login_data on every AUTH.
logging.getLogger("mail.log").addFilter(lambda rec: "login_data is deprecated" not in rec.getMessage())


def _split_addr(value, default_host, default_port):
    value = (value or "").strip()
    if not value:
        return default_host, default_port
    host, _, port = value.rpartition(":")
    return (host.strip("[]") or default_host), int(port or default_port)


SMTP_HOST, SMTP_PORT = _split_addr(os.environ.get("MP_SMTP_BIND_ADDR"), "0.0.0.0", 1025)
UI_HOST, UI_PORT = _split_addr(os.environ.get("MP_UI_BIND_ADDR"), "0.0.0.0", 8025)


def readyz() -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{UI_PORT}/readyz", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except Exception:
        return 1


def _addresses(header_value):
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


class Handler:
    def __init__(self, store):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        item = self.store.add(envelope)
        print(f"smtp: stored {item['ID']} from {item['From']['Address']} "
              f"to {[t['Address'] for t in item['To']]} subject {item['Subject']!r}", flush=True)
        return "250 OK"


def _accept_any_auth(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult
    return AuthResult(success=True)


def make_app(store):
    from aiohttp import web

    async def ok(request):
        return web.Response(text="OK")

    async def list_messages(request):
        try:
            start = max(0, int(request.query.get("start", "0")))
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return web.json_response({"error": "bad start/limit"}, status=400)
        msgs = store.messages
        page = msgs[start:start + limit] if limit > 0 else msgs[start:]
        return web.json_response({
            "total": len(msgs),
            "unread": sum(1 for m in msgs if not m["Read"]),
            "count": len(page),
            "messages_count": len(msgs),
            "start": start,
            "tags": [],
            "messages": [Store.summary(m) for m in page],
        })

    async def get_message(request):
        mid = request.match_info["id"]
        for m in store.messages:
            if m["ID"] == mid or (mid == "latest" and m is store.messages[0]):
                m["Read"] = True
                body = Store.summary(m)
                body.update({"Text": m["_text"], "HTML": m["_html"]})
                return web.json_response(body)
        return web.Response(status=404, text="message not found")

    async def delete_messages(request):
        ids = None
        if request.can_read_body:
            try:
                ids = (await request.json()).get("IDs")
            except Exception:
                ids = None
        if ids:
            store.messages[:] = [m for m in store.messages if m["ID"] not in set(ids)]
        else:
            store.messages.clear()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/readyz", ok)
    app.router.add_get("/livez", ok)
    app.router.add_get("/api/v1/messages", list_messages)
    app.router.add_delete("/api/v1/messages", delete_messages)
    app.router.add_get("/api/v1/message/{id}", get_message)
    return app


async def serve():
    from aiohttp import web
    from aiosmtpd.smtp import SMTP

    store = Store()
    loop = asyncio.get_running_loop()
    handler = Handler(store)
    smtp_server = await loop.create_server(
        lambda: SMTP(handler, hostname="mailpit", authenticator=_accept_any_auth,
                     auth_required=False, auth_require_tls=False),
        host=SMTP_HOST, port=SMTP_PORT)
    runner = web.AppRunner(make_app(store), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, UI_HOST, UI_PORT).start()
    print(f"mailpit stand-in: SMTP on {SMTP_HOST}:{SMTP_PORT}, HTTP on {UI_HOST}:{UI_PORT}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    smtp_server.close()
    await smtp_server.wait_closed()
    await runner.cleanup()


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    if args and args[0] == "readyz":
        return readyz()
    if args and args[0] in ("version", "help"):
        print("mailpit stand-in (devstack tests)")
        return 0
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
