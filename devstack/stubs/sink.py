"""Event sink for analytics / error tracking: records what apps send, answers like the real thing.

    python -m devstack.stubs.sink --port 8040 --state-dir DIR

PostHog: POST /capture/ /batch/ /e/ /i/v0/e/ /track/ /engage/ /s/ -> {"status": 1};
         POST /decide/ /flags/ -> {"status": 1, "featureFlags": {}, ...} (no flags on).
Sentry:  POST /api/<project>/envelope/ and /api/<project>/store/ -> {"id": <event id>}.
Every request is appended as one JSON line to DIR/events.jsonl:
  {"ts", "source": "posthog"|"sentry", "kind", "path", "project"?, "body"?,
   "events": [...] (posthog) | "items": [{"header", "payload"}] (sentry envelope)}
GET /api/events[?source=posthog|sentry&limit=N] -> that list; DELETE /api/events clears it.
Readiness: GET /healthz. Point SDKs here: PostHog host=http://HOST:PORT,
Sentry DSN=http://anykey@HOST:PORT/<project>.
"""
from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import uuid
import zlib
from datetime import datetime, timezone
from urllib.parse import parse_qs

from aiohttp import web

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.sink")

POSTHOG_CAPTURE = ("capture", "batch", "e", "i/v0/e", "track", "engage", "s")
POSTHOG_DECIDE = ("decide", "flags")


def _json_or_text(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")}


def _inflate(raw: bytes) -> bytes:
    """aiohttp already undoes Content-Encoding; posthog-js gzips without saying so."""
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:1] == b"\x78":  # zlib header (sentry's old "deflate" store requests)
        try:
            return zlib.decompress(raw)
        except zlib.error:
            pass
    return raw


def decode_posthog(raw: bytes, content_type: str):
    raw = _inflate(raw)
    if content_type == "application/x-www-form-urlencoded":
        # posthog-js legacy: data=<base64(json)>&compression=base64
        data = parse_qs(raw.decode("utf-8", "replace")).get("data", [""])[0]
        try:
            return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))
        except ValueError:
            return {"raw": data}
    return _json_or_text(raw)


def posthog_events(body) -> list:
    if isinstance(body, list):  # posthog-js /e/ sends a bare array
        return body
    if isinstance(body, dict):
        if isinstance(body.get("batch"), list):
            return body["batch"]
        if "event" in body:
            return [body]
    return []


def parse_envelope(raw: bytes) -> tuple[dict, list[dict]]:
    """Sentry envelope: header line, then (item header line, payload) pairs; payload
    is `length` bytes when given, else up to the next newline."""
    raw = _inflate(raw)
    pos = raw.find(b"\n")
    header = _json_or_text(raw if pos < 0 else raw[:pos])
    items = []
    pos = len(raw) if pos < 0 else pos + 1
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end
        line = raw[pos:end].strip()
        pos = end + 1
        if not line:
            continue
        item_header = _json_or_text(line)
        length = item_header.get("length") if isinstance(item_header, dict) else None
        if isinstance(length, int):
            payload, pos = raw[pos:pos + length], pos + length + 1
        else:
            end = raw.find(b"\n", pos)
            end = len(raw) if end < 0 else end
            payload, pos = raw[pos:end], end + 1
        items.append({"header": item_header, "payload": _json_or_text(payload)})
    return header if isinstance(header, dict) else {}, items


class EventLog:
    def __init__(self, state_dir: str):
        self.path = os.path.join(state_dir, "events.jsonl")

    def append(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")

    def read(self) -> list[dict]:
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a torn last line from a crash: skip it
        return out

    def clear(self) -> None:
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def _record(source, kind, request, **fields) -> dict:
    return {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "source": source, "kind": kind, "path": request.path, **fields}


def build_app(state_dir: str) -> web.Application:
    events = EventLog(state_dir)

    def posthog(kind: str, decide: bool):
        async def handler(request):
            body = decode_posthog(await request.read(), request.content_type)
            evs = posthog_events(body) if not decide else []
            events.append(_record("posthog", kind, request, body=body, events=evs))
            log.info("posthog %s: %s", kind, ", ".join(str(e.get("event")) for e in evs
                                                       if isinstance(e, dict)) or "-")
            if decide:
                return web.json_response({"status": 1, "featureFlags": {},
                                          "featureFlagPayloads": {}, "flags": {},
                                          "errorsWhileComputingFlags": False,
                                          "sessionRecording": False})
            return web.json_response({"status": 1})
        return handler

    async def sentry_envelope(request):
        header, items = parse_envelope(await request.read())
        event_id = header.get("event_id") or next(
            (i["payload"].get("event_id") for i in items
             if isinstance(i["payload"], dict) and i["payload"].get("event_id")),
            uuid.uuid4().hex)
        project = request.match_info["project"]
        events.append(_record("sentry", "envelope", request, project=project, event_id=event_id,
                              header=header, items=items))
        log.info("sentry envelope project=%s event=%s items=%s", project, event_id,
                 ",".join(str(i["header"].get("type")) for i in items
                          if isinstance(i["header"], dict)))
        return web.json_response({"id": event_id})

    async def sentry_store(request):
        body = _json_or_text(_inflate(await request.read()))
        event_id = (body.get("event_id") if isinstance(body, dict) else None) or uuid.uuid4().hex
        project = request.match_info["project"]
        events.append(_record("sentry", "store", request, project=project, event_id=event_id,
                              body=body))
        log.info("sentry store project=%s event=%s", project, event_id)
        return web.json_response({"id": event_id})

    async def list_events(request):
        recs = events.read()
        if "source" in request.query:
            recs = [r for r in recs if r.get("source") == request.query["source"]]
        if "limit" in request.query:
            try:
                recs = recs[-int(request.query["limit"]):]
            except ValueError:
                raise web.HTTPBadRequest(text="limit must be an integer") from None
        return web.json_response(recs)

    async def clear_events(request):
        events.clear()
        return web.json_response({"status": "ok"})

    async def healthz(request):
        return web.Response(text="ok")

    app = _serve.RequestLog().install(web.Application(middlewares=[_serve.cors], client_max_size=64 * 1024 * 1024))
    for name in POSTHOG_CAPTURE + POSTHOG_DECIDE:
        handler = posthog(name.rsplit("/", 1)[-1], name in POSTHOG_DECIDE)
        for path in (f"/{name}", f"/{name}/"):
            app.router.add_post(path, handler)
    for suffix, handler in (("envelope", sentry_envelope), ("store", sentry_store)):
        for path in (f"/api/{{project}}/{suffix}", f"/api/{{project}}/{suffix}/"):
            app.router.add_post(path, handler)
    app.router.add_get("/api/events", list_events)
    app.router.add_delete("/api/events", clear_events)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv=None) -> None:
    _serve.main_with_state("sink", __doc__, 8040, build_app, argv)


if __name__ == "__main__":
    main()
