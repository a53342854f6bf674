"""The /v1 HTTP layer: key check, parameters, idempotency, one transaction per call, expand, JSON.

Keys: `Authorization: Bearer sk_...` (or Basic, as curl -u sends it) must be
the project's secret key. The publishable key is taken only where Stripe takes
it (what Stripe.js calls: creating payment methods and tokens, confirming and
reading an intent with its client secret), also as the `key` form field
Stripe.js sends. Anything else is a 401 with Stripe's message.

Idempotency-Key: the first answer (success or card decline) is stored for 24
hours and replayed for the same key with the same parameters
(`Idempotent-Replayed: true`); other parameters under that key are a 400.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

from aiohttp import web

from devstack.stubs.stripe import errors
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.forms import Params, parse_pairs
from devstack.stubs.stripe.objects import Ctx, Route, expand, render
from devstack.stubs.stripe.store import new_id

log = logging.getLogger("devstack.stubs.stripe")
EMU = web.AppKey("devstack_stripe_emulator", object)  # the Emulator, for the page and admin handlers

# Form fields Stripe.js adds to its calls; not parameters of the API.
CLIENT_FIELDS = ("key", "_stripe_version", "_stripe_account", "payment_user_agent", "time_on_page", "guid", "muid", "sid",
                 "referrer", "client_attribution_metadata", "use_stripe_sdk")


async def read_params(request: web.Request) -> dict:
    pairs = list(request.query.items())
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise errors.invalid("Invalid JSON body.") from None
            if not isinstance(body, dict):
                raise errors.invalid("The request body must be a JSON object.")
            return {**parse_pairs(pairs), **body}
        pairs += list((await request.post()).items())
    return parse_pairs((k, v) for k, v in pairs if isinstance(v, str))


def presented_key(request: web.Request, params: dict) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            return base64.b64decode(value.strip()).decode().split(":", 1)[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    key = params.get("key")
    return key if isinstance(key, str) and key else None


def authenticate(emu, key: str | None, public: bool) -> str:
    if not key:
        raise errors.auth_missing()
    if hmac.compare_digest(key.encode(), emu.secret_key.encode()):
        return "secret"
    if emu.publishable_key and hmac.compare_digest(key.encode(), emu.publishable_key.encode()):
        if public:
            return "publishable"
        raise errors.publishable_not_allowed()
    raise errors.auth_invalid(key)


def json_response(status: int, body: dict, headers: dict) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, indent=2), content_type="application/json", headers=headers)


def handler(emu, route: Route):
    async def handle(request: web.Request) -> web.Response:
        request_id = new_id("req", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": request.headers.get("Stripe-Version") or emu.api_version()}
        idem = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if idem:
            headers["Idempotency-Key"] = idem
        try:
            params = await read_params(request)
            auth = authenticate(emu, presented_key(request, params), route.public)
            for name in CLIENT_FIELDS:
                params.pop(name, None)
            paths = Params(params).strings("expand")
            params.pop("expand", None)
            status, text, replayed, events = call(emu, route, request, params, paths, auth, request_id, idem)
        except StripeError as exc:
            return json_response(exc.status, exc.body(), headers)
        except Exception:  # a bug in the emulator: Stripe's api_error shape, the traceback in the log
            log.exception("%s %s failed", request.method, request.path)
            return json_response(500, {"error": {"type": "api_error", "message": "devstack's Stripe emulator failed on this call; "
                                                 "its log (`devstack logs <service>`) has the details."}}, headers)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        emu.published(events)
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)

    return handle


def call(emu, route: Route, request: web.Request, params: dict, paths: list[str], auth: str, request_id: str, idem: str | None):
    """Run the handler in one transaction: (status, body, replayed, events)."""
    store = emu.store
    fingerprint = hashlib.sha256(json.dumps([request.method, request.path, params], sort_keys=True).encode()).hexdigest()
    with store.transaction():
        if idem:
            hit = store.idempotent(idem)
            if hit is not None:
                if hit[0] != fingerprint:
                    raise StripeError(400, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters "
                                      f"they were first used with. Try using a key other than '{idem}' if you meant to execute a "
                                      "different request.")
                return hit[1], hit[2], True, []
        ctx = Ctx(emu, Params(params), emu.clock.now(), auth, {"id": request_id, "idempotency_key": idem})
        try:
            result = route.handler(ctx, **request.match_info)
            status, body = 200, render(expand(ctx, result, paths) if paths else result)
        except StripeError as exc:
            if not exc.commit:
                raise
            status, body = exc.status, exc.body()
        text = json.dumps(body, indent=2)
        if idem:
            store.remember(idem, fingerprint, status, text)
    return status, text, False, ctx.events


def unknown(request: web.Request) -> web.Response:
    exc = errors.unknown_route(request.method, request.path)
    return json_response(exc.status, exc.body(), {})


def add_routes(app: web.Application, emu, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, handler(emu, route))

    async def fallback(request: web.Request) -> web.Response:
        return unknown(request)

    app.router.add_route("*", "/v1/{tail:.*}", fallback)
