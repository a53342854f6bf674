"""Feature-flag config server: serves one JSON file, re-read whenever it changes.

    python -m devstack.stubs.flags --port 8030 --config flags.json

GET / , /config , /config.json -> the file's content (application/json, with ETag,
CORS for browser apps). Edit the file and the next request sees the change. An
invalid or missing file answers 500/404 with {"error": ...} rather than stale flags.
Readiness: GET /healthz.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

from aiohttp import web

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.flags")


class ConfigFile:
    """File content cached by (mtime, size, inode): cheap stat per request, read on change."""

    def __init__(self, path: str):
        self.path = path
        self._key = None
        self._body = b""

    def read(self) -> bytes:
        st = os.stat(self.path)  # FileNotFoundError propagates to the handler
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if key != self._key:
            with open(self.path, "rb") as f:
                body = f.read()
            json.loads(body)  # ValueError propagates: don't serve broken JSON
            self._key, self._body = key, body
            log.info("loaded %s (%d bytes)", self.path, len(body))
        return self._body


def build_app(config_path: str) -> web.Application:
    config = ConfigFile(config_path)

    async def serve_config(request):
        try:
            body = config.read()
        except FileNotFoundError:
            return web.json_response({"error": f"{config_path} not found"}, status=404)
        except ValueError as e:
            log.error("%s is not valid JSON: %s", config_path, e)
            return web.json_response({"error": f"{config_path} is not valid JSON: {e}"},
                                     status=500)
        etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def healthz(request):
        return web.Response(text="ok")

    app = _serve.RequestLog().install(web.Application(middlewares=[_serve.cors]))
    for path in ("/", "/config", "/config.json"):
        app.router.add_get(path, serve_config)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv=None) -> None:
    p = _serve.arg_parser("flags", __doc__, state_dir=False)
    p.add_argument("--port", type=int, default=8030)
    p.add_argument("--config", required=True, help="JSON file to serve")
    args = p.parse_args(argv)
    _serve.setup_logging("flags")
    app = build_app(os.path.abspath(args.config))
    _serve.run(lambda: _serve.start_app(app, args.host, args.port))


if __name__ == "__main__":
    main()
