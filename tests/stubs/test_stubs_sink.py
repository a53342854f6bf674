import gzip
import json


def test_records_posthog_and_sentry(start_stub, tmp_path, http, free_port):
    port = free_port()
    state = tmp_path / "sink"
    start_stub("sink", "--port", port, "--state-dir", state,
               ready=f"http://127.0.0.1:{port}/healthz")
    base = f"http://127.0.0.1:{port}"

    # posthog-python style batch
    r = http("POST", f"{base}/batch/", json={"api_key": "phc_x", "batch": [
        {"event": "signed_up", "distinct_id": "u1", "properties": {"plan": "pro"}},
        {"event": "$pageview", "distinct_id": "u1", "properties": {}}]})
    assert r.status == 200 and r.json() == {"status": 1}
    # posthog-js style: gzip body flagged only in the query string
    body = gzip.compress(json.dumps([{"event": "clicked", "properties": {"x": 1}}]).encode())
    r = http("POST", f"{base}/e/?compression=gzip-js", data=body,
             headers={"Content-Type": "text/plain"})
    assert r.json() == {"status": 1}
    r = http("POST", f"{base}/decide/?v=3", json={"token": "phc_x", "distinct_id": "u1"})
    assert r.json()["status"] == 1 and r.json()["featureFlags"] == {}

    # sentry-sdk style envelope, one item with explicit length, one without
    event = json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
                        "message": "boom", "level": "error"}).encode()
    envelope = (json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
                            "dsn": "http://key@127.0.0.1/42"}).encode() + b"\n"
                + json.dumps({"type": "event", "length": len(event)}).encode() + b"\n"
                + event + b"\n"
                + json.dumps({"type": "session"}).encode() + b"\n"
                + b'{"status":"ok"}\n')
    r = http("POST", f"{base}/api/42/envelope/", data=gzip.compress(envelope),
             headers={"Content-Type": "application/x-sentry-envelope",
                      "Content-Encoding": "gzip", "X-Sentry-Auth": "Sentry sentry_key=key"})
    assert r.status == 200 and r.json() == {"id": "9ec79c33ec9942ab8353589fcb2e04dc"}
    r = http("POST", f"{base}/api/42/store/", json={"event_id": "a" * 32, "message": "old"})
    assert r.json() == {"id": "a" * 32}

    recs = http("GET", f"{base}/api/events").json()
    assert [(r["source"], r["kind"]) for r in recs] == [
        ("posthog", "batch"), ("posthog", "e"), ("posthog", "decide"),
        ("sentry", "envelope"), ("sentry", "store")]
    assert [e["event"] for e in recs[0]["events"]] == ["signed_up", "$pageview"]
    assert recs[1]["events"][0]["event"] == "clicked"
    env = recs[3]
    assert env["project"] == "42"
    assert [i["header"]["type"] for i in env["items"]] == ["event", "session"]
    assert env["items"][0]["payload"]["message"] == "boom"
    assert env["items"][1]["payload"] == {"status": "ok"}

    sentry_only = http("GET", f"{base}/api/events?source=sentry").json()
    assert len(sentry_only) == 2
    lines = (state / "events.jsonl").read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["kind"] == "batch"

    # browser SDKs preflight cross-origin posts
    r = http("OPTIONS", f"{base}/e/", headers={"Origin": "http://localhost:3000",
                                               "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"

    assert http("DELETE", f"{base}/api/events").status == 200
    assert http("GET", f"{base}/api/events").json() == []
