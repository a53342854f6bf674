"""Plumbing shared by the stand-in servers: CLI args, stderr logging, signals, serving.

Every stub is `python -m devstack.stubs.<name> ...`; this keeps them identical in how
they bind (only --host, default loopback), log (one stderr line per request/event)
and stop (SIGTERM/SIGINT -> close listeners -> exit 0 well within a second).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Awaitable, Callable, Iterable

from aiohttp import web

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
