"""Local inbox: an SMTP server that keeps every message, plus a mailpit-compatible HTTP API.

    DEVSTACK_SMTP_PASSWORD=... python -m devstack.stubs.mailcatcher --smtp-port 1025 --http-port 8025 \
        --state-dir DIR [--smtp-user USER]

SMTP takes AUTH PLAIN/LOGIN without TLS. With a password set (devstack always sets
the generated one), it behaves as mailpit with MP_SMTP_AUTH: a login with any other
user or password answers 535, and MAIL before a login answers 530. Without one it
accepts any login, or none. Messages are stored as DIR/messages/<ID>.eml plus an <ID>.json sidecar
(envelope, time, read flag), so they survive restarts. The HTTP API is the subset of
mailpit's /api/v1 that tests and apps use; readiness: GET /readyz.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

from aiohttp import web

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.mailcatcher")
_ID_RE = re.compile(r"^[A-Za-z0-9]+$")


class Inbox:
    """Messages on disk; the sidecar JSON is written last, so its presence marks a complete message."""

    def __init__(self, state_dir: str):
        self.dir = os.path.join(state_dir, "messages")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):  # a read-only dir still serves what it holds
            os.chmod(self.dir, 0o700)  # mail is private: 0600 files in a 0700 dir
        self.meta: dict[str, dict] = {}
        for name in os.listdir(self.dir):
            if name.endswith(".tmp"):  # a write cut short (SIGKILL, full disk): never answered 250
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.dir, name))
            elif name.endswith(".json"):
                try:
                    with open(os.path.join(self.dir, name)) as f:
                        self.meta[name[:-5]] = json.load(f)
                except (OSError, ValueError):
                    log.warning("skipping unreadable %s", name)

    def _path(self, id_: str, ext: str) -> str:
        return os.path.join(self.dir, id_ + ext)

    def _write(self, path: str, data: bytes, durable: bool = True) -> None:
        """Whole or not at all (temp file + rename), 0600; a full disk leaves no partial file.
        durable: on disk before SMTP says 250 (a read flag need not be)."""
        tmp = path + ".tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "wb") as f:
                f.write(data)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _write_meta(self, id_: str, durable: bool = True) -> None:
        self._write(self._path(id_, ".json"), json.dumps(self.meta[id_]).encode(), durable)

    def add(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
        """Stores a message; OSError (a full disk) when it could not, with nothing left half-written."""
        id_ = secrets.token_hex(11)  # mailpit IDs are opaque short strings too
        self._write(self._path(id_, ".eml"), raw)
        meta = {"created_ns": time.time_ns(), "mail_from": mail_from, "rcpt_tos": list(rcpt_tos), "read": False}
        self.meta[id_] = meta
        try:
            self._write_meta(id_)
        except BaseException:
            self.meta.pop(id_, None)
            try:
                os.unlink(self._path(id_, ".eml"))
            except OSError:
                pass
            raise
        return id_

    def ids(self) -> list[str]:
        """Newest first."""
        return sorted(self.meta, key=lambda i: self.meta[i]["created_ns"], reverse=True)

    def raw(self, id_: str) -> bytes:
        with open(self._path(id_, ".eml"), "rb") as f:
            return f.read()

    def mark_read(self, id_: str) -> None:
        if not self.meta[id_]["read"]:
            self.meta[id_]["read"] = True
            self._write_meta(id_, durable=False)

    def delete(self, ids: list[str] | None = None) -> None:
        for id_ in list(self.meta) if ids is None else ids:
            if self.meta.pop(id_, None) is not None:
                for ext in (".json", ".eml"):
                    try:
                        os.remove(self._path(id_, ext))
                    except FileNotFoundError:
                        pass


class _Handler:
    """aiosmtpd handler: store whatever arrives."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        try:
            id_ = self.inbox.add(envelope.original_content, envelope.mail_from, envelope.rcpt_tos)
        except OSError as exc:  # a full or read-only disk: a temporary failure, the client may retry
            log.error("could not store a message: %s", exc)
            return "452 4.3.1 Insufficient system storage"
        log.info("smtp message %s from=%s to=%s (%d bytes)", id_, envelope.mail_from,
                 ",".join(envelope.rcpt_tos), len(envelope.original_content))
        return "250 Message accepted for delivery"


def _accept_any_auth(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult
    return AuthResult(success=True)


def _check_login(user: str, password: str):
    """An aiosmtpd authenticator for one user: 235 for it, 535 for anything else."""
    import hmac

    def check(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and \
            hmac.compare_digest(auth_data.login, user.encode()) & hmac.compare_digest(auth_data.password, password.encode())
        if not ok:
            log.warning("smtp login refused (%s, user %r)", mechanism, auth_data.login.decode("utf-8", "replace")
                        if isinstance(auth_data, LoginPassword) else "?")
        return AuthResult(success=ok, handled=False)

    return check


async def start_smtp(inbox: Inbox, host: str, port: int, user: str | None = None, password: str | None = None):
    """Bind aiosmtpd on the running loop (no controller thread); returns the asyncio server."""
    import asyncio
    from aiosmtpd.smtp import SMTP

    # aiosmtpd warns on every successful AUTH about its own internal use of login_data.
    logging.getLogger("mail.log").addFilter(lambda r: "login_data is deprecated" not in r.msg)
    loop = asyncio.get_running_loop()
    handler = _Handler(inbox)
    authenticator = _check_login(user or "", password) if password else _accept_any_auth
    return await loop.create_server(
        lambda: SMTP(handler, loop=loop, hostname="devstack-mailcatcher", enable_SMTPUTF8=True,
                     auth_require_tls=False, authenticator=authenticator, auth_required=bool(password)),
        host, port, reuse_address=True)


# --- mailpit-shaped JSON ---------------------------------------------------------------

def _addrs(value) -> list[dict]:
    if value is None:
        return []
    return [{"Name": n, "Address": a} for n, a in getaddresses([str(value)]) if a or n]


def _iso(ns: int) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _date(value) -> str | None:
    try:
        return value.datetime.isoformat() if value is not None and value.datetime else None
    except AttributeError:  # unparsable Date header
        return None


def _bodies(msg) -> tuple[str, str]:
    def content(pref):
        part = msg.get_body(preferencelist=(pref,))
        if part is None:
            return ""
        try:
            body = part.get_content()
        except (LookupError, ValueError):  # unknown charset etc.: still show something
            body = part.get_payload(decode=True).decode("utf-8", "replace")
        return body.replace("\r\n", "\n")  # SMTP's CRLF is transport, not content
    return content("plain"), content("html")


def _snippet(text: str, html: str) -> str:
    if not text and html:
        text = re.sub(r"<(style|script)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S | re.I)
    return " ".join(text.split())[:250]


def _attachments(msg) -> list[dict]:
    out = []
    for i, part in enumerate(msg.iter_attachments(), 1):
        payload = part.get_payload(decode=True) or b""
        out.append({"PartID": str(i), "FileName": part.get_filename() or "",
                    "ContentType": part.get_content_type(),
                    "ContentID": (part.get("Content-ID") or "").strip("<>"), "Size": len(payload)})
    return out


def summarize(inbox: Inbox, id_: str, full: bool = False) -> dict:
    raw = inbox.raw(id_)
    meta = inbox.meta[id_]
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    to, cc = _addrs(msg["To"]), _addrs(msg["Cc"])
    visible = {a["Address"].lower() for a in to + cc}
    # Bcc never appears in headers; like mailpit, derive it from the SMTP envelope.
    bcc = [{"Name": "", "Address": r} for r in meta["rcpt_tos"] if r.lower() not in visible]
    from_ = (_addrs(msg["From"]) or [{"Name": "", "Address": meta["mail_from"]}])[0]
    text, html = _bodies(msg)
    attachments = _attachments(msg)
    out = {
        "ID": id_,
        "MessageID": str(msg["Message-ID"] or "").strip().strip("<>"),
        "Read": meta["read"],
        "From": from_,
        "To": to,
        "Cc": cc,
        "Bcc": bcc,
        "ReplyTo": _addrs(msg["Reply-To"]),
        "Subject": str(msg["Subject"] or ""),
        "Created": _iso(meta["created_ns"]),
        "Tags": [],
        "Size": len(raw),
        "Attachments": len(attachments),
        "Snippet": _snippet(text, html),
    }
    if full:
        out.update({"ReturnPath": meta["mail_from"], "Text": text,
                    "Date": _date(msg["Date"]) or out["Created"],
                    "HTML": html, "Inline": [], "Attachments": attachments})
        del out["Snippet"], out["Created"]
    return out


# --- HTTP ----------------------------------------------------------------------------

def build_app(inbox: Inbox) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/readyz")
    @routes.get("/livez")
    async def ready(request):
        return web.Response(text="ok")

    @routes.get("/api/v1/messages")
    async def list_messages(request):
        ids = inbox.ids()
        try:
            start = max(int(request.query.get("start", 0)), 0)
            limit = int(request.query.get("limit", 50))
        except ValueError:
            raise web.HTTPBadRequest(text="start/limit must be integers") from None
        page = ids[start:start + limit] if limit > 0 else ids[start:]
        msgs = [summarize(inbox, i) for i in page]
        unread = sum(1 for i in ids if not inbox.meta[i]["read"])
        return web.json_response({"total": len(ids), "unread": unread, "count": len(msgs),
                                  "messages_count": len(ids), "start": start, "tags": [],
                                  "messages": msgs})

    def resolve(request) -> str:
        id_ = request.match_info["id"]
        if id_ == "latest":
            ids = inbox.ids()
            if not ids:
                raise web.HTTPNotFound(text="message not found")
            return ids[0]
        if not _ID_RE.match(id_) or id_ not in inbox.meta:
            raise web.HTTPNotFound(text="message not found")
        return id_

    @routes.get("/api/v1/message/{id}")
    async def get_message(request):
        id_ = resolve(request)
        inbox.mark_read(id_)  # mailpit marks a message read when it is opened
        return web.json_response(summarize(inbox, id_, full=True))

    @routes.get("/api/v1/message/{id}/raw")
    async def get_raw(request):
        return web.Response(body=inbox.raw(resolve(request)), content_type="message/rfc822")

    @routes.delete("/api/v1/messages")
    async def delete_messages(request):
        ids = None
        if request.can_read_body:
            try:
                ids = (await request.json() or {}).get("IDs") or None
            except ValueError:
                raise web.HTTPBadRequest(text="body must be JSON {\"IDs\": [...]}") from None
        inbox.delete(ids)
        log.info("deleted %s", "all messages" if ids is None else f"{len(ids)} message(s)")
        return web.Response(text="ok")

    app = web.Application()
    app.add_routes(routes)
    return app


def main(argv=None) -> None:
    p = _serve.arg_parser("mailcatcher", __doc__)
    p.add_argument("--smtp-port", type=int, default=1025)
    p.add_argument("--http-port", type=int, default=8025)
    p.add_argument("--smtp-user", default="devstack", help="the one SMTP login (its password: $DEVSTACK_SMTP_PASSWORD)")
    args = p.parse_args(argv)
    _serve.setup_logging("mailcatcher")
    inbox = Inbox(_serve.state_dir(args.state_dir))

    async def start():
        smtp = await start_smtp(inbox, args.host, args.smtp_port, args.smtp_user, _serve.env_secret("DEVSTACK_SMTP_PASSWORD"))
        log.info("smtp listening on %s:%d (%d stored messages)", args.host, args.smtp_port,
                 len(inbox.meta))

        async def stop_smtp():
            smtp.close()

        # HTTP last: /readyz answering implies SMTP is already accepting.
        return [stop_smtp, await _serve.start_app(build_app(inbox), args.host, args.http_port)]

    _serve.run(start)


if __name__ == "__main__":
    main()
