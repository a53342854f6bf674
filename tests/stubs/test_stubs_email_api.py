KEY = "SG.local-test-key"


def test_provider_apis_deliver_to_inbox(start_stub, tmp_path, http, free_port):
    smtp_port, inbox_port, api_port = free_port(), free_port(), free_port()
    start_stub("mailcatcher", "--smtp-port", smtp_port, "--http-port", inbox_port, "--smtp-user", "app",
               "--state-dir", tmp_path / "mail", env={"DEVSTACK_SMTP_PASSWORD": "inboxpw"},
               ready=f"http://127.0.0.1:{inbox_port}/readyz")
    proc = start_stub("email_api", "--port", api_port, "--smtp-port", smtp_port,  # it logs in to the inbox as apps do
                      env={"EMAIL_API_KEY": KEY, "DEVSTACK_SMTP_USER": "app", "DEVSTACK_SMTP_PASSWORD": "inboxpw"},
                      ready=f"http://127.0.0.1:{api_port}/healthz")
    assert KEY not in " ".join(proc.proc.args)  # the secret never goes through argv
    base = f"http://127.0.0.1:{api_port}"
    inbox = f"http://127.0.0.1:{inbox_port}/api/v1"

    sendgrid = {
        "personalizations": [{"to": [{"email": "ann@example.com", "name": "Ann"}],
                              "bcc": [{"email": "audit@example.com"}]}],
        "from": {"email": "noreply@app.test", "name": "App"},
        "subject": "Welcome via SendGrid",
        "content": [{"type": "text/plain", "value": "Welcome aboard"},
                    {"type": "text/html", "value": "<h1>Welcome aboard</h1>"}],
    }
    r = http("POST", f"{base}/v3/mail/send", json=sendgrid,
             headers={"Authorization": f"Bearer {KEY}"})
    assert r.status == 202

    msgs = http("GET", f"{inbox}/messages").json()["messages"]
    assert len(msgs) == 1
    m = msgs[0]
    assert m["Subject"] == "Welcome via SendGrid"
    assert m["From"] == {"Name": "App", "Address": "noreply@app.test"}
    assert m["To"] == [{"Name": "Ann", "Address": "ann@example.com"}]
    assert m["Bcc"] == [{"Name": "", "Address": "audit@example.com"}]
    full = http("GET", f"{inbox}/message/{m['ID']}").json()
    assert full["Text"].strip() == "Welcome aboard"
    assert "<h1>Welcome aboard</h1>" in full["HTML"]

    r = http("POST", f"{base}/emails", headers={"Authorization": f"Bearer {KEY}"},
             json={"from": "App <noreply@app.test>", "to": ["ann@example.com"],
                   "subject": "Via Resend", "html": "<p>resend</p>"})
    assert r.status == 200 and r.json()["id"]

    r = http("POST", f"{base}/email", headers={"X-Postmark-Server-Token": KEY},
             json={"From": "noreply@app.test", "To": "ann@example.com, bob@example.com",
                   "Subject": "Via Postmark", "TextBody": "postmark"})
    assert r.status == 200 and r.json()["ErrorCode"] == 0

    subjects = [m["Subject"] for m in http("GET", f"{inbox}/messages").json()["messages"]]
    assert subjects == ["Via Postmark", "Via Resend", "Welcome via SendGrid"]


def test_api_key_required(start_stub, tmp_path, http, free_port):
    api_port = free_port()
    start_stub("email_api", "--port", api_port, "--smtp-port", free_port(),
               env={"EMAIL_API_KEY": KEY}, ready=f"http://127.0.0.1:{api_port}/healthz")
    base = f"http://127.0.0.1:{api_port}"
    body = {"from": "a@app.test", "to": "b@example.com", "subject": "x", "text": "x"}
    assert http("POST", f"{base}/emails", json=body).status == 401
    assert http("POST", f"{base}/emails", json=body,
                headers={"Authorization": "Bearer wrong"}).status == 401
    assert http("POST", f"{base}/v3/mail/send", json={}, headers={}).status == 401
    r = http("POST", f"{base}/email", json={}, headers={"X-Postmark-Server-Token": "wrong"})
    assert r.status == 401 and r.json()["ErrorCode"] == 10
    # Right key, but nothing listens on the SMTP port: reported, not hung.
    r = http("POST", f"{base}/emails", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status == 502
    # Right key, bad payload.
    r = http("POST", f"{base}/emails", json={"subject": "no from"},
             headers={"Authorization": f"Bearer {KEY}"})
    assert r.status == 422


def test_mailgun_form_api_delivers_to_inbox(start_stub, tmp_path, http, free_port):
    import base64
    import urllib.parse

    smtp_port, inbox_port, api_port = free_port(), free_port(), free_port()
    start_stub("mailcatcher", "--smtp-port", smtp_port, "--http-port", inbox_port,
               "--state-dir", tmp_path / "mail", ready=f"http://127.0.0.1:{inbox_port}/readyz")
    start_stub("email_api", "--port", api_port, "--smtp-port", smtp_port,
               env={"EMAIL_API_KEY": KEY}, ready=f"http://127.0.0.1:{api_port}/healthz")
    url = f"http://127.0.0.1:{api_port}/v3/mg.app.test/messages"
    form = urllib.parse.urlencode([("from", "App <noreply@app.test>"), ("to", "ann@example.com"), ("to", "bob@example.com"),
                                   ("subject", "Via Mailgun"), ("text", "mailgun"), ("h:Reply-To", "help@app.test")]).encode()

    def basic(user, key):
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded"}

    r = http("POST", url, data=form, headers=basic("api", KEY))
    assert r.status == 200 and r.json()["message"] == "Queued. Thank you."
    (m,) = http("GET", f"http://127.0.0.1:{inbox_port}/api/v1/messages").json()["messages"]
    assert m["Subject"] == "Via Mailgun" and [t["Address"] for t in m["To"]] == ["ann@example.com", "bob@example.com"]
    assert http("POST", url, data=form, headers=basic("api", "wrong")).status == 401
    assert http("POST", url, data=form, headers=basic("someone", KEY)).body == b"Forbidden"
