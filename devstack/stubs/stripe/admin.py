"""Routes for `devstack stripe ...` under /_devstack/stripe/ (a path no Stripe SDK calls), secret key only.

    GET  /_devstack/stripe/events?limit=N[&type=T]   events, newest first, with every delivery attempt
    POST /_devstack/stripe/events/{id}/resend          {"endpoint": "we_..."} optional
    POST /_devstack/stripe/trigger                     {"event": "...", "overrides": ["path=value", ...]}
    POST /_devstack/stripe/checkout/{id}/complete      {"card": "4242...", "email": "..."} optional
    POST /_devstack/stripe/checkout/{id}/expire
    POST /_devstack/stripe/clock/advance               {"by": "31d"}
    GET  /_devstack/stripe/listen?forward_to=URL[&events=a,b]   NDJSON: one line per event forwarded, with the answer
"""
from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from devstack.stubs.stripe import checkout, clock, delivery, errors, renewals, triggers
from devstack.stubs.stripe.api import EMU, authenticate, json_response, presented_key
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.events import wants
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import render

PREFIX = "/_devstack/stripe"


def admin(fn):
    async def handle(request: web.Request) -> web.StreamResponse:
        emu = request.app[EMU]
        try:
            if authenticate(emu, presented_key(request, {}), public=False) != "secret":
                raise errors.publishable_not_allowed()
            body = {}
            if request.method == "POST" and request.can_read_body:
                try:
                    body = await request.json()
                except ValueError:
                    raise errors.invalid("The body must be JSON.") from None
            return await fn(request, emu, body if isinstance(body, dict) else {})
        except StripeError as exc:
            return json_response(exc.status, exc.body(), {})
    return handle


async def list_events(request, emu, body):
    limit = min(int(request.query.get("limit", "20")), 500)
    type_ = request.query.get("type")
    events = [e for e in emu.store.all("event") if not type_ or e["type"] == type_][:limit]
    return web.json_response({"data": [{"id": e["id"], "type": e["type"], "created": e["created"],
                                        "deliveries": emu.store.deliveries_of(e["id"])} for e in events],
                              "endpoints": [{"id": w["id"], "url": w["url"], "enabled_events": w["enabled_events"], "status": w["status"]}
                                            for w in emu.store.all("webhook_endpoint")],
                              "now": emu.clock.now()})


async def resend(request, emu, body):
    event = emu.store.get(request.match_info["id"], "event")
    if event is None:
        raise errors.no_such("event", request.match_info["id"])
    wanted = body.get("endpoint")
    endpoints = [w for w in emu.store.all("webhook_endpoint") if (w["id"] == wanted if wanted else
                                                                   w["status"] == "enabled" and wants(w["enabled_events"], event["type"]))]
    if wanted and not endpoints:
        raise errors.no_such("webhook_endpoint", wanted, "endpoint")
    with emu.store.transaction():
        for w in endpoints:
            emu.store.add_delivery(event["id"], w["id"], w["url"], time.time())
    emu.deliverer.wake.set()
    return web.json_response({"event": event["id"], "endpoints": [w["url"] for w in endpoints]})


async def trigger(request, emu, body):
    event = body.get("event") or ""
    return web.json_response(triggers.run(emu, event, [str(o) for o in body.get("overrides") or []]))


async def complete(request, emu, body):
    id_ = request.match_info["id"]
    card = str(body.get("card") or "4242424242424242")

    def work(ctx):
        session = ctx.get("checkout.session", id_, kind="checkout.session")
        try:
            return checkout.complete(ctx, session, card=Params({"number": card, "exp_month": "12", "exp_year": str(time.gmtime().tm_year + 5),
                                                                "cvc": "123"}, "card"),
                                     email=body.get("email"), name=body.get("name"))
        except checkout.NeedsAuthentication as needs:  # the CLI plays the customer: authenticate
            from devstack.stubs.stripe import payments

            payments.authenticated(ctx, needs.intent, True)
            return checkout.finish(ctx, session)

    done = emu.run(work)
    if done.error is not None:
        raise done.error
    return web.json_response({"session": render(done.result), "redirect": checkout.success_redirect(done.result),
                              "events": [e["type"] for e in done.events]})


async def expire(request, emu, body):
    done = emu.run(lambda ctx: checkout.expire(ctx, ctx.get("checkout.session", request.match_info["id"], kind="checkout.session")))
    if done.error is not None:
        raise done.error
    return web.json_response({"session": render(done.result), "events": [e["type"] for e in done.events]})


async def advance(request, emu, body):
    try:
        seconds = clock.parse_duration(str(body.get("by") or ""))
    except ValueError as exc:
        raise errors.invalid(str(exc), "by") from None
    if seconds <= 0:
        raise errors.invalid("advance by a positive duration (the clock never goes back)", "by")
    now = emu.clock.advance(seconds)
    made = renewals.run_due(emu, now)
    emu.published(made)
    return web.json_response({"now": now, "offset": emu.clock.offset, "events": [{"id": e["id"], "type": e["type"]} for e in made]})


async def listen(request, emu, body):
    url = request.query.get("forward_to", "")
    if not url.startswith(("http://", "https://")):
        raise errors.invalid("forward_to must be an http(s) URL", "forward_to")
    types = [t for t in request.query.get("events", "").split(",") if t] or ["*"]
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    queue: asyncio.Queue = asyncio.Queue()
    listener = (tuple(types), queue)
    emu.listeners.append(listener)
    try:
        await resp.write(json.dumps({"ready": True, "forward_to": url, "events": types}).encode() + b"\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), 15)
            except asyncio.TimeoutError:
                await resp.write(b"\n")  # keep-alive; fails once the CLI is gone
                continue
            row = emu.store.add_delivery(event["id"], "listen", url, time.time(), state="sending")
            status, error, excerpt, seconds = await delivery.post(emu.deliverer.client(), url, delivery.payload_of(event), emu.webhook_secret)
            ok = status is not None and 200 <= status < 300
            emu.store.record_attempt(row, time.time(), status, error, excerpt, seconds, "delivered" if ok else "failed", None)
            await resp.write(json.dumps({"id": event["id"], "type": event["type"], "status": status, "error": error,
                                         "response": excerpt[:200]}).encode() + b"\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        emu.listeners.remove(listener)
    return resp


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/events", admin(list_events))
    app.router.add_post(f"{PREFIX}/events/{{id}}/resend", admin(resend))
    app.router.add_post(f"{PREFIX}/trigger", admin(trigger))
    app.router.add_post(f"{PREFIX}/checkout/{{id}}/complete", admin(complete))
    app.router.add_post(f"{PREFIX}/checkout/{{id}}/expire", admin(expire))
    app.router.add_post(f"{PREFIX}/clock/advance", admin(advance))
    app.router.add_get(f"{PREFIX}/listen", admin(listen))
