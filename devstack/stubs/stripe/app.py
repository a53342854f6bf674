"""The emulator: its store and clock, the HTTP app (API, pages, Stripe.js, admin), webhook delivery, clock work."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import web

from devstack.stubs import _serve
from devstack.stubs.stripe import admin, api, billing, catalog, checkout, customers, pages, payments, portal, stripejs, webhooks
from devstack.stubs.stripe.api import EMU
from devstack.stubs.stripe.clock import Clock
from devstack.stubs.stripe.delivery import Deliverer
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.events import DEFAULT_API_VERSION, wants
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx
from devstack.stubs.stripe.store import Store

log = logging.getLogger("devstack.stubs.stripe")
ROUTES = catalog.ROUTES + customers.ROUTES + payments.ROUTES + checkout.ROUTES + billing.ROUTES + portal.ROUTES + webhooks.ROUTES
TICK = 5.0  # seconds between looks at the clock's due work (renewals, expiries) in real time


@dataclass
class Run:
    result: object = None
    error: StripeError | None = None
    events: list = field(default_factory=list)


class Emulator:
    def __init__(self, state_dir: str, secret_key: str, publishable_key: str | None, webhook_secret: str, public_url: str,
                 webhooks_wanted: list[dict] | None = None):
        self.store = Store(state_dir)
        self.clock = Clock(self.store)
        self.secret_key, self.publishable_key, self.webhook_secret = secret_key, publishable_key, webhook_secret
        self.public_url = public_url.rstrip("/")
        self.listeners: list = []  # (event types, asyncio.Queue) of `devstack stripe listen`
        self.deliverer = Deliverer(self)
        self.run(lambda ctx: webhooks.sync_manifest(ctx, webhooks_wanted or [], webhook_secret))

    def api_version(self) -> str:
        return DEFAULT_API_VERSION

    def run(self, fn) -> Run:
        """fn(ctx) in one transaction, outside any HTTP call (pages, admin, clock work). A card decline commits."""
        ctx = Ctx(self, Params({}), self.clock.now(), auth="system")
        done = Run()
        try:
            with self.store.transaction():
                try:
                    done.result = fn(ctx)
                except StripeError as exc:
                    if not exc.commit:
                        raise
                    done.error = exc
        except StripeError as exc:
            done.error = exc
            ctx.events = []
        done.events = list(ctx.events)
        self.published(done.events)
        return done

    def published(self, events: list[dict]) -> None:
        """New events are committed: wake the deliverer, hand them to `listen` streams."""
        if not events:
            return
        self.deliverer.wake.set()
        for types, queue in self.listeners:
            for event in events:
                if wants(list(types), event["type"]):
                    queue.put_nowait(event)

    async def tick(self) -> None:
        from devstack.stubs.stripe import renewals

        while True:
            await asyncio.sleep(TICK)
            try:
                self.published(renewals.run_due(self, self.clock.now()))
            except Exception:  # noqa: BLE001 - keep serving; the log says what failed
                log.exception("clock work failed")


def build_app(emu: Emulator) -> web.Application:
    app = web.Application(middlewares=[_serve.cors], client_max_size=2 * 1024 * 1024)
    app[EMU] = emu
    admin.add_routes(app)
    pages.add_routes(app)
    stripejs.add_routes(app)
    api.add_routes(app, emu, ROUTES)

    async def background(app: web.Application):
        emu.deliverer.start()
        ticker = asyncio.get_running_loop().create_task(emu.tick())
        yield
        ticker.cancel()
        await emu.deliverer.stop()
        emu.store.close()

    app.cleanup_ctx.append(background)
    return app
