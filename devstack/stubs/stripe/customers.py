"""Customers, payment methods (test cards by number and by token), card tokens and setup intents."""
from __future__ import annotations

import copy
import secrets
import time

from devstack.stubs.stripe import cards, errors
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx, Route, equal_filter, new, page, search
from devstack.stubs.stripe.store import new_id

ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def address(p: Params, key: str) -> dict | None:
    if not p.given(key):
        return None
    a = p.sub(key)
    return {k: a.str(k) for k in ADDRESS_KEYS}


def client_secret(id_: str) -> str:
    return f"{id_}_secret_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


# -- customers ----------------------------------------------------------------------------

def create_customer(ctx: Ctx) -> dict:
    p = ctx.params
    settings = p.sub("invoice_settings")
    customer = new(ctx, "customer", "cus", {
        "address": address(p, "address"), "balance": p.int("balance", 0), "currency": None, "default_source": None,
        "delinquent": False, "description": p.str("description"), "discount": None, "email": p.str("email"),
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": settings.str("footer"),
                             "rendering_options": None},
        "metadata": p.metadata(), "name": p.str("name"), "next_invoice_sequence": 1, "phone": p.str("phone"),
        "preferred_locales": p.strings("preferred_locales"), "shipping": None, "tax_exempt": p.str("tax_exempt", "none"),
        "test_clock": None,
    })
    ctx.put(customer)
    ctx.emit("customer.created", customer)
    pm_id = p.str("payment_method") or p.str("source")
    default = settings.str("default_payment_method")
    if pm_id:
        pm = attach(ctx, resolve_payment_method(ctx, pm_id, "payment_method"), customer["id"])
        if p.given("source"):  # a legacy card source becomes the default, as sources were
            default = default or pm["id"]
    if default:
        set_default_payment_method(ctx, customer, resolve_owned(ctx, default, customer["id"], "invoice_settings[default_payment_method]"))
    return customer


def update_customer(ctx: Ctx, id: str) -> dict:
    customer = ctx.get("customer", id, kind="customer")
    before = copy.deepcopy(customer)
    p = ctx.params
    p.update(customer, "email", "name", "description", "phone", "tax_exempt")
    if "address" in p:
        customer["address"] = address(p, "address")
    if "balance" in p:
        customer["balance"] = p.int("balance", 0)
    if p.given("source"):
        pm = attach(ctx, resolve_payment_method(ctx, p.str("source"), "source"), id)
        customer["invoice_settings"]["default_payment_method"] = pm["id"]
    settings = p.sub("invoice_settings")
    if "default_payment_method" in settings:
        pm_id = settings.str("default_payment_method")
        customer["invoice_settings"]["default_payment_method"] = (
            resolve_owned(ctx, pm_id, id, "invoice_settings[default_payment_method]")["id"] if pm_id else None)
    if "footer" in settings:
        customer["invoice_settings"]["footer"] = settings.str("footer")
    customer["metadata"] = p.metadata(customer["metadata"])
    ctx.put(customer)
    ctx.emit("customer.updated", customer, before)
    return customer


def set_default_payment_method(ctx: Ctx, customer: dict, pm: dict) -> None:
    before = copy.deepcopy(customer)
    customer["invoice_settings"]["default_payment_method"] = pm["id"]
    ctx.put(customer)
    ctx.emit("customer.updated", customer, before)


def list_customers(ctx: Ctx) -> dict:
    items = equal_filter(ctx.params, ctx.store.all("customer"), "email")
    return page(ctx, items, "/v1/customers")


# -- payment methods ----------------------------------------------------------------------

def card_payment_method(ctx: Ctx, p: Params, billing: Params | None = None) -> dict:
    """A card PaymentMethod from card[number]/[exp_month]/[exp_year]/[cvc] or card[token]."""
    card_p = p.sub("card")
    token = card_p.str("token")
    if token:
        number = cards.token_number(token) or _token_number(ctx, token)
        exp_month, exp_year, cvc = 12, ctx_year(ctx) + 5, True
    else:
        number = card_p.str("number", required=True)
        exp_month = card_p.int("exp_month", required=True)
        exp_year = card_p.int("exp_year", required=True)
        cvc = card_p.given("cvc")
        if exp_year < 100:
            exp_year += 2000
        if not 1 <= exp_month <= 12:
            raise StripeError(402, "card_error", "Your card's expiration month is invalid.", code="invalid_expiry_month", param="card[exp_month]")
        if (exp_year, exp_month) < (ctx_year(ctx), ctx_month(ctx)):
            raise StripeError(402, "card_error", "Your card's expiration year is invalid.", code="invalid_expiry_year", param="card[exp_year]")
    card = cards.lookup(number)
    billing = billing or p.sub("billing_details")
    pm = new(ctx, "payment_method", "pm", {
        "allow_redisplay": p.str("allow_redisplay", "unspecified"),
        "billing_details": {"address": address(billing, "address") or {k: None for k in ADDRESS_KEYS},
                            "email": billing.str("email"), "name": billing.str("name"), "phone": billing.str("phone"), "tax_id": None},
        "card": cards.card_details(card, exp_month, exp_year, cvc), "customer": None, "metadata": p.metadata(), "type": "card",
        "_behaviour": card.behaviour, "_authenticated": False,
    })
    return ctx.put(pm)


def _token_number(ctx: Ctx, token: str) -> str:
    tok = ctx.store.get(token, "token")
    if tok is None:
        raise errors.no_such("token", token, "card[token]")
    return tok["_number"]


def ctx_year(ctx: Ctx) -> int:
    return time.gmtime(ctx.now).tm_year


def ctx_month(ctx: Ctx) -> int:
    return time.gmtime(ctx.now).tm_mon


def create_payment_method(ctx: Ctx) -> dict:
    p = ctx.params
    if p.given("payment_method"):  # cloning a platform's method: not emulated; return it
        return ctx.get("payment_method", p.str("payment_method"), "payment_method")
    p.str("type", required=True, choices=("card",))
    pm = card_payment_method(ctx, p)
    if p.given("customer") and ctx.auth == "secret":
        attach(ctx, pm, p.str("customer"))
    return pm


def resolve_payment_method(ctx: Ctx, value: str, param: str) -> dict:
    """A payment method id, or a test token (pm_card_visa, tok_visa) made into a new one, as Stripe does."""
    number = cards.token_number(value)
    if number:
        return card_payment_method(ctx, Params({"type": "card", "card": {"number": number, "exp_month": "12",
                                                                          "exp_year": str(ctx_year(ctx) + 5), "cvc": "123"}}))
    if value.startswith("tok_"):
        tok = ctx.store.get(value, "token")
        if tok is None:
            raise errors.no_such("token", value, param)
        return card_payment_method(ctx, Params({"type": "card", "card": {"token": value}}))
    return ctx.get("payment_method", value, param, kind="PaymentMethod")


def resolve_owned(ctx: Ctx, value: str, customer: str, param: str) -> dict:
    pm = resolve_payment_method(ctx, value, param)
    if pm.get("customer") is None:
        pm = attach(ctx, pm, customer)
    elif pm["customer"] != customer:
        raise errors.invalid(f"The payment method `{pm['id']}` belongs to another customer.", param)
    return pm


def attach(ctx: Ctx, pm: dict, customer_id: str) -> dict:
    ctx.get("customer", customer_id, "customer", kind="customer")
    if pm.get("customer") == customer_id:
        return pm
    if pm.get("customer"):
        raise errors.invalid("The payment method you provided has already been attached to a customer.", "payment_method",
                             "payment_method_unexpected_state")
    if pm["_behaviour"] in cards.FAILS_SETUP:  # the card check at attach declines these
        code, decline, message = cards.failure(pm["_behaviour"])
        raise StripeError(402, "card_error", message, code=code, decline_code=decline, param="")
    pm["customer"] = customer_id
    ctx.put(pm)
    ctx.emit("payment_method.attached", pm)
    return pm


def attach_route(ctx: Ctx, id: str) -> dict:
    return attach(ctx, resolve_payment_method(ctx, id, "payment_method"), ctx.params.str("customer", required=True))


def detach_route(ctx: Ctx, id: str) -> dict:
    pm = ctx.get("payment_method", id, kind="PaymentMethod")
    if not pm.get("customer"):
        raise errors.invalid("The payment method you provided is not attached to a customer so detachment is impossible.",
                             code="payment_method_unexpected_state")
    before = copy.deepcopy(pm)
    customer = ctx.store.get(pm["customer"], "customer")
    pm["customer"] = None
    ctx.put(pm)
    ctx.emit("payment_method.detached", pm, before)
    if customer and customer["invoice_settings"].get("default_payment_method") == id:
        prior = copy.deepcopy(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        ctx.put(customer)
        ctx.emit("customer.updated", customer, prior)
    return pm


def update_payment_method(ctx: Ctx, id: str) -> dict:
    pm = ctx.get("payment_method", id, kind="PaymentMethod")
    before = copy.deepcopy(pm)
    p = ctx.params
    if p.given("billing_details"):
        b = p.sub("billing_details")
        for key in ("email", "name", "phone"):
            if key in b:
                pm["billing_details"][key] = b.str(key)
        if b.given("address"):
            pm["billing_details"]["address"] = address(b, "address")
    if p.given("card"):
        c = p.sub("card")
        for key in ("exp_month", "exp_year"):
            if c.given(key):
                pm["card"][key] = c.int(key)
    pm["metadata"] = p.metadata(pm["metadata"])
    ctx.put(pm)
    ctx.emit("payment_method.updated", pm, before)
    return pm


def list_payment_methods(ctx: Ctx, id: str | None = None) -> dict:
    customer = id or ctx.params.str("customer")
    if customer:
        ctx.get("customer", customer, "customer", kind="customer")
    items = [pm for pm in ctx.store.all("payment_method") if pm.get("customer") == customer and customer]
    if ctx.params.given("type"):
        items = [pm for pm in items if pm["type"] == ctx.params.str("type")]
    url = f"/v1/customers/{id}/payment_methods" if id else "/v1/payment_methods"
    return page(ctx, items, url)


def create_token(ctx: Ctx) -> dict:
    """POST /v1/tokens (Stripe.js v2-style card tokens): tok_ ids usable as card[token] or source."""
    c = ctx.params.sub("card")
    number = c.str("number", required=True)
    card = cards.lookup(number)
    pm_like = cards.card_details(card, c.int("exp_month", 12), c.int("exp_year", ctx_year(ctx) + 5), c.given("cvc"))
    token = new(ctx, "token", "tok", {"card": {"id": new_id("card"), "object": "card", **pm_like}, "client_ip": None,
                                      "type": "card", "used": False, "_number": card.number})
    return ctx.put(token)


# -- setup intents ------------------------------------------------------------------------

def create_setup_intent(ctx: Ctx) -> dict:
    p = ctx.params
    customer = p.str("customer")
    if customer:
        ctx.get("customer", customer, "customer", kind="customer")
    id_ = new_id("seti")
    intent = new(ctx, "setup_intent", "seti", {
        "application": None, "automatic_payment_methods": {"enabled": p.sub("automatic_payment_methods").bool("enabled")},
        "cancellation_reason": None, "client_secret": client_secret(id_), "customer": customer, "description": p.str("description"),
        "flow_directions": None, "last_setup_error": None, "latest_attempt": None, "mandate": None, "metadata": p.metadata(),
        "next_action": None, "on_behalf_of": None, "payment_method": None, "payment_method_options": {},
        "payment_method_types": p.strings("payment_method_types") or ["card"], "single_use_mandate": None,
        "status": "requires_payment_method", "usage": p.str("usage", "off_session"),
    }, id_)
    if p.given("payment_method"):
        intent["payment_method"] = resolve_payment_method(ctx, p.str("payment_method"), "payment_method")["id"]
        intent["status"] = "requires_confirmation"
    ctx.put(intent)
    ctx.emit("setup_intent.created", intent)
    if p.bool("confirm", False):
        return confirm_setup(ctx, intent, p)
    return intent


def confirm_setup_route(ctx: Ctx, id: str) -> dict:
    intent = ctx.get("setup_intent", id, kind="setup_intent")
    check_client_secret(ctx, intent)
    return confirm_setup(ctx, intent, ctx.params)


def confirm_setup(ctx: Ctx, intent: dict, p: Params) -> dict:
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise errors.unexpected_state(f"You cannot confirm this SetupIntent because it has a status of {intent['status']}.",
                                      "setup_intent_unexpected_state", setup_intent=intent)
    before = copy.deepcopy(intent)
    if p.given("payment_method"):
        intent["payment_method"] = resolve_payment_method(ctx, p.str("payment_method"), "payment_method")["id"]
    elif p.given("payment_method_data"):
        intent["payment_method"] = card_payment_method(ctx, p.sub("payment_method_data"))["id"]
    if not intent["payment_method"]:
        raise errors.missing_param("payment_method")
    pm = ctx.get("payment_method", intent["payment_method"], "payment_method", kind="PaymentMethod")
    behaviour = pm["_behaviour"]
    if behaviour in cards.FAILS_SETUP:
        code, decline, message = cards.failure(behaviour)
        intent.update(status="requires_payment_method", payment_method=None,
                      last_setup_error={"code": code, "decline_code": decline, "message": message, "type": "card_error",
                                        "payment_method": pm})
        ctx.put(intent)
        ctx.emit("setup_intent.setup_failed", intent, before)
        raise StripeError(402, "card_error", message, code=code, decline_code=decline, setup_intent=intent)
    if behaviour in ("auth_always", "auth_once") and not pm["_authenticated"]:
        intent.update(status="requires_action", next_action=auth_action(ctx, intent, p.str("return_url")))
        ctx.put(intent)
        ctx.emit("setup_intent.requires_action", intent, before)
        return intent
    return setup_succeeded(ctx, intent, before)


def setup_succeeded(ctx: Ctx, intent: dict, before: dict) -> dict:
    pm = ctx.get("payment_method", intent["payment_method"], "payment_method", kind="PaymentMethod")
    if pm["_behaviour"] == "auth_once":
        pm["_authenticated"] = True
        ctx.put(pm)
    if intent.get("customer"):
        attach(ctx, pm, intent["customer"])
    intent.update(status="succeeded", next_action=None, last_setup_error=None)
    ctx.put(intent)
    ctx.emit("setup_intent.succeeded", intent, before)
    return intent


def auth_action(ctx: Ctx, intent: dict, return_url: str | None) -> dict:
    """next_action for a card that asks for authentication: our page plays the bank's challenge."""
    from urllib.parse import urlencode

    query = urlencode({"client_secret": intent["client_secret"], **({"return_url": return_url} if return_url else {})})
    return {"type": "redirect_to_url",
            "redirect_to_url": {"url": f"{ctx.emu.public_url}/authenticate/{intent['id']}?{query}", "return_url": return_url}}


def cancel_setup_intent(ctx: Ctx, id: str) -> dict:
    intent = ctx.get("setup_intent", id, kind="setup_intent")
    if intent["status"] in ("succeeded", "canceled"):
        raise errors.unexpected_state(f"You cannot cancel this SetupIntent because it has a status of {intent['status']}.",
                                      "setup_intent_unexpected_state")
    before = copy.deepcopy(intent)
    intent.update(status="canceled", cancellation_reason=ctx.params.str("cancellation_reason"), next_action=None)
    ctx.put(intent)
    ctx.emit("setup_intent.canceled", intent, before)
    return intent


def update_setup_intent(ctx: Ctx, id: str) -> dict:
    intent = ctx.get("setup_intent", id, kind="setup_intent")
    p = ctx.params
    p.update(intent, "description")
    if p.given("customer"):
        intent["customer"] = ctx.get("customer", p.str("customer"), "customer", kind="customer")["id"]
    if p.given("payment_method"):
        intent["payment_method"] = resolve_payment_method(ctx, p.str("payment_method"), "payment_method")["id"]
        intent["status"] = "requires_confirmation"
    intent["metadata"] = p.metadata(intent["metadata"])
    ctx.put(intent)
    return intent


def retrieve_intent(type_: str):
    def retrieve(ctx: Ctx, id: str) -> dict:
        intent = ctx.get(type_, id, kind=type_)
        check_client_secret(ctx, intent)
        return intent
    return retrieve


def check_client_secret(ctx: Ctx, intent: dict) -> None:
    """With a publishable key (Stripe.js), an intent is reachable only with its client secret."""
    if ctx.auth == "publishable" and ctx.params.str("client_secret") != intent.get("client_secret"):
        raise errors.no_such(intent["object"], intent["id"])


def list_setup_intents(ctx: Ctx) -> dict:
    items = equal_filter(ctx.params, ctx.store.all("setup_intent"), "customer", "payment_method")
    return page(ctx, items, "/v1/setup_intents")


ROUTES = [
    Route("POST", "/v1/customers", create_customer),
    Route("GET", "/v1/customers", list_customers),
    Route("GET", "/v1/customers/search", lambda ctx: search(ctx, ctx.store.all("customer"), "/v1/customers/search")),
    Route("GET", "/v1/customers/{id}", lambda ctx, id: ctx.get("customer", id, kind="customer")),
    Route("POST", "/v1/customers/{id}", update_customer),
    Route("GET", "/v1/customers/{id}/payment_methods", list_payment_methods),
    Route("GET", "/v1/customers/{id}/payment_methods/{pm}",
          lambda ctx, id, pm: resolve_owned_get(ctx, id, pm)),
    Route("POST", "/v1/payment_methods", create_payment_method, public=True),
    Route("GET", "/v1/payment_methods", list_payment_methods),
    Route("GET", "/v1/payment_methods/{id}", lambda ctx, id: ctx.get("payment_method", id, kind="PaymentMethod")),
    Route("POST", "/v1/payment_methods/{id}", update_payment_method),
    Route("POST", "/v1/payment_methods/{id}/attach", attach_route),
    Route("POST", "/v1/payment_methods/{id}/detach", detach_route),
    Route("POST", "/v1/tokens", create_token, public=True),
    Route("GET", "/v1/tokens/{id}", lambda ctx, id: ctx.get("token", id, kind="token")),
    Route("POST", "/v1/setup_intents", create_setup_intent),
    Route("GET", "/v1/setup_intents", list_setup_intents),
    Route("GET", "/v1/setup_intents/{id}", retrieve_intent("setup_intent"), public=True),
    Route("POST", "/v1/setup_intents/{id}", update_setup_intent),
    Route("POST", "/v1/setup_intents/{id}/confirm", confirm_setup_route, public=True),
    Route("POST", "/v1/setup_intents/{id}/cancel", cancel_setup_intent),
]


def resolve_owned_get(ctx: Ctx, customer: str, pm_id: str) -> dict:
    pm = ctx.get("payment_method", pm_id, kind="PaymentMethod")
    if pm.get("customer") != customer:
        raise errors.no_such("PaymentMethod", pm_id)
    return pm
