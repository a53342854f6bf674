"""SendGrid / Resend / Postmark / Mailgun-shaped send API that delivers into the local inbox over SMTP.

    EMAIL_API_KEY=... [DEVSTACK_SMTP_USER=... DEVSTACK_SMTP_PASSWORD=...] \\
        python -m devstack.stubs.email_api --port 8026 --smtp-host 127.0.0.1 --smtp-port 1025

With DEVSTACK_SMTP_USER/PASSWORD it logs in to the inbox (mailpit with
MP_SMTP_AUTH, devstack's catcher) before it delivers.

Apps keep their provider SDK and only change the base URL:
  POST /v3/mail/send  (SendGrid v3 JSON)       -> 202
  POST /emails        (Resend)                 -> 200 {"id": ...}
  POST /email         (Postmark)               -> 200 {"MessageID": ..., "ErrorCode": 0, ...}
  POST /v3/<domain>/messages (Mailgun, form)   -> 200 {"id": ..., "message": "Queued. Thank you."}
Auth: `Authorization: Bearer <EMAIL_API_KEY>`, `X-Postmark-Server-Token: <EMAIL_API_KEY>` or
Mailgun's Basic `api:<EMAIL_API_KEY>`;
wrong or missing -> 401. If EMAIL_API_KEY is unset any non-empty key is accepted.
Readiness: GET /healthz.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import smtplib
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid

from aiohttp import web

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.email_api")


class BadRequest(Exception):
    pass


# --- each provider's error body, so SDKs surface a sensible message ------------------------

def _sendgrid_error(status, msg):
    return web.json_response({"errors": [{"message": msg, "field": None, "help": None}]},
                             status=status)


def _resend_error(status, msg):
    name = {401: "missing_api_key", 422: "validation_error"}.get(status, "application_error")
    return web.json_response({"statusCode": status, "name": name, "message": msg}, status=status)


def _mailgun_error(status, msg):
    if status == 401:
        return web.Response(status=401, text="Forbidden")  # what Mailgun answers
    return web.json_response({"message": msg}, status=status)


def _postmark_error(status, msg):
    code = {401: 10, 422: 300}.get(status, 1)
    return web.json_response({"ErrorCode": code, "Message": msg}, status=status)


# --- payload -> list of (EmailMessage, [recipients]) ----------------------------------------

def _message(from_, to, cc, bcc, reply_to, subject, text, html, headers=None):
    if not from_ or not (to or cc or bcc):
        raise BadRequest("from and at least one recipient are required")
    msg = EmailMessage()
    msg["From"] = from_
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = ", ".join(reply_to)
    msg["Subject"] = subject or ""
    msg["Message-ID"] = make_msgid(domain="devstack.local")
    msg["Date"] = formatdate(localtime=True)
    for k, v in (headers or {}).items():
        msg[k] = v
    if text or not html:
        msg.set_content(text or "")
    if html:  # html-only mails stay single-part, like the providers send them
        (msg.add_alternative if text else msg.set_content)(html, subtype="html")
    rcpts = [a for _, a in getaddresses(list(to) + list(cc) + list(bcc)) if a]
    return msg, rcpts


def _list(v) -> list[str]:
    """Resend/Postmark take a string (maybe comma separated) or a list."""
    if not v:
        return []
    if isinstance(v, str):
        return [formataddr(p) for p in getaddresses([v]) if p[1]]
    return list(v)


def _sg_addr(a) -> str:
    return formataddr((a.get("name") or "", a["email"]))


def from_sendgrid(d):
    contents = {c.get("type"): c.get("value") for c in d.get("content") or []}
    out = []
    for p in d.get("personalizations") or []:
        out.append(_message(
            _sg_addr(d["from"]) if d.get("from") else None,
            [_sg_addr(a) for a in p.get("to") or []], [_sg_addr(a) for a in p.get("cc") or []],
            [_sg_addr(a) for a in p.get("bcc") or []],
            [_sg_addr(d["reply_to"])] if d.get("reply_to") else [],
            p.get("subject") or d.get("subject"), contents.get("text/plain"),
            contents.get("text/html"), {**(d.get("headers") or {}), **(p.get("headers") or {})}))
    if not out:
        raise BadRequest("personalizations is required")
    return out


def from_resend(d):
    return [_message(d.get("from"), _list(d.get("to")), _list(d.get("cc")), _list(d.get("bcc")),
                     _list(d.get("reply_to")), d.get("subject"), d.get("text"), d.get("html"),
                     d.get("headers"))]


def from_postmark(d):
    headers = {h["Name"]: h["Value"] for h in d.get("Headers") or []}
    return [_message(d.get("From"), _list(d.get("To")), _list(d.get("Cc")), _list(d.get("Bcc")),
                     _list(d.get("ReplyTo")), d.get("Subject"), d.get("TextBody"),
                     d.get("HtmlBody"), headers)]


def from_mailgun(form):
    """Mailgun's form fields: repeated or comma-separated recipients, `h:<Header>` headers."""
    def every(key):
        return [a for v in form.getall(key, []) for a in _list(str(v))]

    headers = {k[2:]: str(v) for k, v in form.items() if k.startswith("h:") and k.lower() != "h:reply-to"}
    return [_message(form.get("from"), every("to"), every("cc"), every("bcc"), every("h:Reply-To"),
                     form.get("subject"), form.get("text"), form.get("html"), headers)]


# --- app ----------------------------------------------------------------------------------

def build_app(api_key: str | None, smtp_host: str, smtp_port: int, smtp_login: tuple[str, str] | None = None) -> web.Application:
    def authorized(request) -> bool:
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else \
            request.headers.get("X-Postmark-Server-Token", "")
        if auth[:6].lower() == "basic ":  # Mailgun: user `api`, the key as password
            try:
                user, _, given = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            if user != "api":
                return False
        if not given:
            return False
        return api_key is None or hmac.compare_digest(given.encode(), api_key.encode())

    def deliver(messages):
        with smtplib.SMTP(smtp_host, smtp_port, timeout=10) as s:
            if smtp_login:  # the inbox takes mail only after the login it was given
                s.login(*smtp_login)
            for msg, rcpts in messages:
                s.send_message(msg, to_addrs=rcpts)

    def endpoint(parse, error, ok, form=False):
        async def handler(request):
            if not authorized(request):
                return error(401, "invalid or missing API key")
            try:
                messages = parse(await (request.post() if form else request.json()))
            except (ValueError, KeyError, TypeError, AttributeError, BadRequest) as e:
                return error(422 if isinstance(e, BadRequest) else 400, f"invalid payload: {e}")
            try:
                # smtplib blocks; keep the loop free for other requests.
                await asyncio.to_thread(deliver, messages)
            except (OSError, smtplib.SMTPException) as e:
                log.error("smtp delivery to %s:%d failed: %s", smtp_host, smtp_port, e)
                return error(502, f"local SMTP delivery failed: {e}")
            for msg, rcpts in messages:
                log.info("sent %r to %s via %s", str(msg["Subject"]), ",".join(rcpts), request.path)
            return ok(messages)
        return handler

    def sendgrid_ok(messages):
        return web.Response(status=202, headers={"X-Message-Id": uuid.uuid4().hex})

    def resend_ok(messages):
        return web.json_response({"id": str(uuid.uuid4())})

    def postmark_ok(messages):
        msg, _ = messages[0]
        return web.json_response({
            "To": msg["To"] or "", "SubmittedAt": datetime.now(timezone.utc).isoformat(),
            "MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": "OK"})

    def mailgun_ok(messages):
        return web.json_response({"id": make_msgid(domain="devstack.local"), "message": "Queued. Thank you."})

    async def healthz(request):
        return web.Response(text="ok")

    app = _serve.RequestLog().install(web.Application())
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/v3/mail/send", endpoint(from_sendgrid, _sendgrid_error, sendgrid_ok))
    app.router.add_post("/emails", endpoint(from_resend, _resend_error, resend_ok))
    app.router.add_post("/email", endpoint(from_postmark, _postmark_error, postmark_ok))
    app.router.add_post("/v3/{domain}/messages", endpoint(from_mailgun, _mailgun_error, mailgun_ok, form=True))
    return app


def main(argv=None) -> None:
    p = _serve.arg_parser("email_api", __doc__, state_dir=False)
    p.add_argument("--port", type=int, default=8026)
    p.add_argument("--smtp-host", default="127.0.0.1")
    p.add_argument("--smtp-port", type=int, default=1025)
    args = p.parse_args(argv)
    _serve.setup_logging("email_api")
    key = _serve.env_secret("EMAIL_API_KEY")
    if key is None:
        log.warning("EMAIL_API_KEY not set: accepting any non-empty API key")
    user, password = _serve.env_secret("DEVSTACK_SMTP_USER"), _serve.env_secret("DEVSTACK_SMTP_PASSWORD")
    app = build_app(key, args.smtp_host, args.smtp_port, (user, password) if user and password else None)
    _serve.run(lambda: _serve.start_app(app, args.host, args.port))


if __name__ == "__main__":
    main()
