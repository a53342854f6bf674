"""Plumbing shared by the stand-in servers: CLI args, stderr logging, signals, serving.

Every stub is `python -m devstack.stubs.<name> ...`; this keeps them identical in how
they bind (only --host, default loopback), log (one stderr line per request/event)
and stop (SIGTERM/SIGINT -> close listeners -> exit 0 well within a second).

A stub that makes HTTPS requests passes its own `ssl.create_default_context()`:
in a stand-in forked by devstack, aiohttp's default client context trusts no
certificate (runtime/forkserver.py imports aiohttp without loading them).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from typing import Awaitable, Callable, Iterable

from aiohttp import web

# Imported here, before the fork helper forks, because two or more stand-ins use
# them (the Stripe emulator and the S3 stand-in keep SQLite stores; mail, LiveKit
# and S3 check secrets with hmac): one copy shared by every child, not one each.
import hmac  # noqa: E402,F401
import secrets  # noqa: E402,F401
import sqlite3  # noqa: E402,F401

Cleanup = Callable[[], Awaitable[None]]

# Whole shutdown budget: callers (devstack, tests) give us ~1 s before escalating.
SHUTDOWN_BUDGET = 0.8


def arg_parser(name: str, doc: str | None, *, state_dir: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m devstack.stubs.{name}", description=doc)
    # Loopback by default: these stand-ins have no real auth, never expose them.
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    if state_dir:
        p.add_argument("--state-dir", required=True, help="directory holding this server's state")
    return p


def setup_logging(name: str) -> logging.Logger:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s {name} %(message)s", datefmt="%H:%M:%S")
    # aiosmtpd logs several lines per SMTP session; we log one per message ourselves.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    return logging.getLogger(f"devstack.stubs.{name}")


def state_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path


def env_secret(var: str) -> str | None:
    """Secrets come from the environment only: argv is world-readable via ps."""
    return os.environ.get(var) or None


@web.middleware
async def cors(request: web.Request, handler):
    """Browser SDKs (posthog-js, @sentry/browser, flag fetchers) call cross-origin."""
    if request.method == "OPTIONS":
        resp = web.Response(status=204)
    else:
        resp = await handler(request)
    resp.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "*")
    return resp


class RequestLog:
    """The last requests a stand-in answered, for tests (devstack_stub_log):
    GET /_devstack/requests?after=SEQ -> {"requests": [...], "last": SEQ}.

    In memory only (a restart starts over); health checks are not recorded."""

    KEEP = 2000
    BODY_LIMIT = 64 * 1024
    SKIP = ("/healthz", "/readyz", "/livez", "/_devstack/")

    def __init__(self):
        import collections

        self.entries: collections.deque = collections.deque(maxlen=self.KEEP)
        self.last = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.path.startswith(self.SKIP) or request.method == "OPTIONS":
            return await handler(request)
        raw = await request.read() if request.can_read_body else b""  # cached: the handler reads it again
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.last += 1
            self.entries.append({
                "seq": self.last, "ts": time.time(), "method": request.method, "path": request.path,
                "query": dict(request.query), "status": status, "body": _body(raw[: self.BODY_LIMIT], request.content_type),
                # Credentials are the app's business; a test asks whether one was sent, not its value.
                "headers": {k: ("***" if k.lower() in ("authorization", "x-postmark-server-token", "cookie") else v)
                            for k, v in request.headers.items()},
            })

    async def read(self, request: web.Request):
        try:
            after = int(request.query.get("after", 0))
            limit = int(request.query.get("limit", self.KEEP))
        except ValueError:
            raise web.HTTPBadRequest(text="after and limit must be integers") from None
        found = [e for e in self.entries if e["seq"] > after][: max(limit, 0)]
        return web.json_response({"requests": found, "last": self.last})

    def install(self, app: web.Application) -> web.Application:
        app.middlewares.append(self.middleware)
        app.router.add_get("/_devstack/requests", self.read)
        return app


def _body(raw: bytes, content_type: str):
    if not raw:
        return None
    if "json" in (content_type or ""):
        try:
            import json

            return json.loads(raw)
        except ValueError:
            pass
    try:
        return raw.decode()
    except UnicodeDecodeError:
        import base64

        return {"base64": base64.b64encode(raw).decode()}


async def start_app(app: web.Application, host: str, port: int) -> Cleanup:
    """Serve an aiohttp app on host:port only; return its async cleanup."""
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access"),
        access_log_format='%a "%r" %s %bB %Tfs',
        # Don't wait for idle keep-alive clients on shutdown.
        shutdown_timeout=0.2,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    logging.getLogger("devstack.stubs").info("http listening on http://%s:%d", host, port)
    return runner.cleanup


def run(start: Callable[[], Awaitable[Cleanup | Iterable[Cleanup]]]) -> None:
    """Run `start()` (which binds listeners, returning cleanup(s)) until SIGTERM/SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        cleanups = await start()
        if callable(cleanups):
            cleanups = [cleanups]
        await stop.wait()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(c() for c in reversed(list(cleanups)))), SHUTDOWN_BUDGET)
        except asyncio.TimeoutError:
            pass  # sockets are closed with the process anyway; exiting on time matters more

    try:
        asyncio.run(main())
    except OSError as e:  # typically "address already in use": say so in one line
        logging.getLogger("devstack.stubs").error("cannot start: %s", e)
        sys.exit(1)
    sys.exit(0)


def main_with_state(name: str, doc: str | None, default_port: int, build_app, argv=None) -> None:
    """The whole `main` of a stand-in that is one aiohttp app over a state dir."""
    parser = arg_parser(name, doc)
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args(argv)
    setup_logging(name)
    app = build_app(state_dir(args.state_dir))
    run(lambda: start_app(app, args.host, args.port))
