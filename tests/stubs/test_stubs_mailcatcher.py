import signal
import smtplib
from email.message import EmailMessage



import pytest

USER, PASSWORD = "app", "Gen3ratedPassw0rd"


def _start(start_stub, tmp_path, smtp_port, http_port, password=PASSWORD):
    return start_stub("mailcatcher", "--smtp-port", smtp_port, "--http-port", http_port,
                      "--state-dir", tmp_path / "mail", "--smtp-user", USER,
                      env={"DEVSTACK_SMTP_PASSWORD": password} if password else None,
                      ready=f"http://127.0.0.1:{http_port}/readyz")


def _send(smtp_port, subject, html=None, bcc=None, attach=False):
    msg = EmailMessage()
    msg["From"] = "Shop <shop@example.com>"
    msg["To"] = "Ann <ann@example.com>"
    msg["Cc"] = "bob@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.com>"
    msg.set_content(f"Hello, this is {subject}.\n")
    if html:
        msg.add_alternative(html, subtype="html")
    if attach:
        msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                           filename="invoice.pdf")
    rcpts = ["ann@example.com", "bob@example.com"] + (bcc or [])
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
        s.login(USER, PASSWORD)  # AUTH without TLS, as apps configured for a provider do
        s.send_message(msg, to_addrs=rcpts)


def test_smtp_to_mailpit_api(start_stub, tmp_path, http, free_port):
    smtp_port, http_port = free_port(), free_port()
    _start(start_stub, tmp_path, smtp_port, http_port)
    api = f"http://127.0.0.1:{http_port}/api/v1"

    _send(smtp_port, "first mail")
    _send(smtp_port, "second mail", html="<p>Hi <b>Ann</b></p>", bcc=["audit@example.com"],
          attach=True)

    listing = http("GET", f"{api}/messages").json()
    assert (listing["total"], listing["unread"], listing["count"]) == (2, 2, 2)
    newest = listing["messages"][0]
    assert newest["Subject"] == "second mail"  # newest first
    assert newest["MessageID"] == "second-mail@example.com"
    assert newest["From"] == {"Name": "Shop", "Address": "shop@example.com"}
    assert newest["To"] == [{"Name": "Ann", "Address": "ann@example.com"}]
    assert newest["Cc"] == [{"Name": "", "Address": "bob@example.com"}]
    assert newest["Bcc"] == [{"Name": "", "Address": "audit@example.com"}]
    assert newest["Snippet"].startswith("Hello, this is second mail.")
    assert newest["Size"] > 0 and newest["Created"].endswith("Z")

    limited = http("GET", f"{api}/messages?limit=1").json()
    assert limited["count"] == 1 and limited["total"] == 2

    full = http("GET", f"{api}/message/{newest['ID']}").json()
    assert full["Text"] == "Hello, this is second mail.\n"
    assert full["HTML"] == "<p>Hi <b>Ann</b></p>\n"
    assert [a["FileName"] for a in full["Attachments"]] == ["invoice.pdf"]
    assert http("GET", f"{api}/messages").json()["unread"] == 1  # opening marks read

    latest = http("GET", f"{api}/message/latest").json()
    assert latest["ID"] == newest["ID"]
    assert http("GET", f"{api}/message/nope").status == 404


def test_messages_survive_restart_and_delete(start_stub, tmp_path, http, free_port):
    smtp_port, http_port = free_port(), free_port()
    api = f"http://127.0.0.1:{http_port}/api/v1"
    first = _start(start_stub, tmp_path, smtp_port, http_port)
    for i in range(3):
        _send(smtp_port, f"mail {i}")
    code, elapsed = first.stop(signal.SIGINT)  # Ctrl-C exits cleanly too
    assert code == 0 and elapsed < 1.0

    _start(start_stub, tmp_path, smtp_port, http_port)
    msgs = http("GET", f"{api}/messages").json()["messages"]
    assert [m["Subject"] for m in msgs] == ["mail 2", "mail 1", "mail 0"]

    r = http("DELETE", f"{api}/messages", json={"IDs": [msgs[0]["ID"]]})
    assert r.status == 200
    assert [m["Subject"] for m in http("GET", f"{api}/messages").json()["messages"]] == \
        ["mail 1", "mail 0"]
    assert http("DELETE", f"{api}/messages").status == 200
    assert http("GET", f"{api}/messages").json()["total"] == 0
    assert http("GET", f"{api}/message/latest").status == 404


def test_smtp_login_checks_the_password_as_mailpit_does(start_stub, tmp_path, http, free_port):
    smtp_port, http_port = free_port(), free_port()
    proc = _start(start_stub, tmp_path, smtp_port, http_port)
    assert PASSWORD not in " ".join(map(str, proc.proc.args))  # the secret never goes through argv
    for mechanism in ("PLAIN", "LOGIN"):
        for user, password in ((USER, "wrong-password"), ("someone", PASSWORD), (USER, "")):
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
                s.ehlo()
                s.user, s.password = user, password
                code, _ = _try_auth(s, mechanism)
                assert code == 535, (mechanism, user, password)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
            s.ehlo()
            s.user, s.password = USER, PASSWORD
            assert _try_auth(s, mechanism)[0] == 235
            s.sendmail("shop@example.com", ["ann@example.com"], f"Subject: via {mechanism}\r\n\r\nhi\r\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:  # no login: mailpit with MP_SMTP_AUTH refuses too
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            s.sendmail("shop@example.com", ["ann@example.com"], "Subject: anonymous\r\n\r\nhi\r\n")
        assert refused.value.smtp_code == 530
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            s.login(USER, "wrong-password")
        assert wrong.value.smtp_code == 535
    subjects = [m["Subject"] for m in http("GET", f"http://127.0.0.1:{http_port}/api/v1/messages").json()["messages"]]
    assert subjects == ["via LOGIN", "via PLAIN"]


def _try_auth(s: smtplib.SMTP, mechanism: str) -> tuple[int, bytes]:
    """One AUTH exchange with `mechanism`; (code, text) of the final reply, never raising."""
    try:
        return s.auth(mechanism, getattr(s, f"auth_{mechanism.lower()}"))
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code, exc.smtp_error


def test_without_a_password_any_login_or_none_is_accepted(start_stub, tmp_path, http, free_port):
    smtp_port, http_port = free_port(), free_port()
    _start(start_stub, tmp_path, smtp_port, http_port, password=None)
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
        s.login("anyone", "anything")
        s.sendmail("a@example.com", ["b@example.com"], "Subject: one\r\n\r\nhi\r\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
        s.sendmail("a@example.com", ["b@example.com"], "Subject: two\r\n\r\nhi\r\n")
    assert http("GET", f"http://127.0.0.1:{http_port}/api/v1/messages").json()["total"] == 2
