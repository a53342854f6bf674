"""Webhook delivery: signed POSTs, retried with backoff, every attempt recorded.

Signature (what the SDKs' construct_event / constructEvent check): the header
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with
the endpoint's whsec_ secret>`. `t` is the real time (the SDKs refuse
signatures older than five minutes), whatever the emulator's clock says.

Retries: 1 s, 2 s, 4 s ... doubling up to every 5 minutes, for up to three
days (Stripe's window); a 2xx answer ends them. Deliveries wait on disk, so a
restart resumes them. Each endpoint gets one request at a time, oldest event first
(like Stripe, no order is promised once retries start).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time

log = logging.getLogger("devstack.stubs.stripe")

MAX_DELAY = 300.0
GIVE_UP_AFTER = 3 * 86400
TIMEOUT = 10.0
EXCERPT = 500
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def payload_of(event: dict) -> str:
    from devstack.stubs.stripe.objects import render

    return json.dumps(render(event), indent=2)


def next_delay(attempts: int) -> float:
    return min(2.0 ** max(attempts - 1, 0), MAX_DELAY)


async def post(session, url: str, payload: str, secret: str) -> tuple[int | None, str | None, str, float]:
    """One attempt: (HTTP status or None, error, response excerpt, seconds)."""
    import aiohttp

    t0 = time.monotonic()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, "Stripe-Signature": signature(payload, secret)}
    try:
        async with session.post(url, data=payload.encode(), headers=headers, allow_redirects=False) as resp:
            body = await resp.content.read(EXCERPT)
            return resp.status, None, body.decode(errors="replace"), time.monotonic() - t0
    except asyncio.TimeoutError:
        return None, f"timed out after {TIMEOUT:.0f}s", "", time.monotonic() - t0
    except aiohttp.ClientConnectorError as exc:  # "connection refused": the app is not up
        errno = getattr(exc.os_error, "errno", None)
        return None, (os.strerror(errno) if errno else str(exc)).lower(), "", time.monotonic() - t0
    except aiohttp.ClientError as exc:
        return None, str(exc) or type(exc).__name__, "", time.monotonic() - t0


class Deliverer:
    def __init__(self, emu):
        self.emu = emu
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.session = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
        if self.session is not None:
            await self.session.close()

    def client(self):
        import aiohttp

        if self.session is None:
            # A TLS context of its own, with the system's CA certificates: aiohttp's
            # default one trusts nothing in a stand-in forked by devstack (runtime/forkserver.py).
            import ssl

            connector = aiohttp.TCPConnector(ssl=ssl.create_default_context())
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT), connector=connector)
        return self.session

    async def run(self) -> None:
        while True:
            self.wake.clear()
            due = self.emu.store.due_deliveries(time.time())
            if due:
                by_endpoint: dict[str, list] = {}
                for row in due:
                    by_endpoint.setdefault(row[2], []).append(row)
                await asyncio.gather(*(self.send_all(rows) for rows in by_endpoint.values()))
                continue
            nxt = self.emu.store.next_delivery_at()
            timeout = None if nxt is None else max(nxt - time.time(), 0.05)
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def send_all(self, rows) -> None:
        for delivery, event_id, endpoint_id, url, attempts, created in rows:
            event = self.emu.store.get(event_id, "event")
            endpoint = self.emu.store.get(endpoint_id, "webhook_endpoint")
            if event is None or endpoint is None:  # the endpoint was deleted meanwhile
                self.emu.store.record_attempt(delivery, time.time(), None, "endpoint deleted", "", 0.0, "failed", None)
                continue
            from devstack.stubs.stripe.webhooks import secret_of

            status, error, excerpt, seconds = await post(self.client(), url, payload_of(event), secret_of(endpoint, self.emu.webhook_secret))
            now = time.time()
            ok = status is not None and 200 <= status < 300
            if ok:
                state, next_at = "delivered", None
            elif now - created > GIVE_UP_AFTER:
                state, next_at = "failed", None
            else:
                state, next_at = "pending", now + next_delay(attempts + 1)
            self.emu.store.record_attempt(delivery, now, status, error, excerpt, seconds, state, next_at)
            log.info("webhook %s %s -> %s: %s%s", event["type"], event_id, url, status or error,
                     "" if ok else f" (attempt {attempts + 1}; {'retrying' if next_at else 'giving up'})")
