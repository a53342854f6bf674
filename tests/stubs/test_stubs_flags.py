import json
import os


def test_serves_and_rereads_config(start_stub, tmp_path, http, free_port):
    port = free_port()
    cfg = tmp_path / "flags.json"
    cfg.write_text(json.dumps({"new_checkout": True}))
    start_stub("flags", "--port", port, "--config", cfg,
               ready=f"http://127.0.0.1:{port}/healthz")
    base = f"http://127.0.0.1:{port}"

    for path in ("/", "/config", "/config.json"):
        r = http("GET", base + path)
        assert r.status == 200 and r.json() == {"new_checkout": True}
        assert r.headers["Content-Type"].startswith("application/json")

    etag = http("GET", base + "/config").headers["ETag"]
    assert http("GET", base + "/config", headers={"If-None-Match": etag}).status == 304

    cfg.write_text(json.dumps({"new_checkout": False, "beta": ["ann"]}))
    os.utime(cfg, ns=(1, 1))  # make the change visible even on coarse-mtime filesystems
    assert http("GET", base + "/config").json() == {"new_checkout": False, "beta": ["ann"]}

    cfg.write_text("{not json")
    r = http("GET", base + "/config")
    assert r.status == 500 and "not valid JSON" in r.json()["error"]
    cfg.unlink()
    assert http("GET", base + "/config").status == 404
