"""Checkout Sessions in payment, subscription and setup mode, completed on the hosted page or from the CLI."""
from __future__ import annotations

import copy

from devstack.stubs.stripe import billing, cards, customers, errors, payments
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx, Route, equal_filter, list_of, new, page
from devstack.stubs.stripe.store import new_id

DAY = 86400
MODES = ("payment", "subscription", "setup")


def create_session(ctx: Ctx) -> dict:
    p = ctx.params
    mode = p.str("mode", required=True, choices=MODES)
    if p.given("customer") and p.given("customer_email"):
        raise errors.invalid("You may only specify one of these parameters: customer, customer_email.", "customer_email")
    customer = p.str("customer")
    if customer:
        ctx.get("customer", customer, "customer", kind="customer")
    if p.str("ui_mode", "hosted") != "hosted":
        raise errors.invalid("devstack's Stripe emulator serves hosted Checkout only (ui_mode: hosted).", "ui_mode")
    items = [line_item(ctx, ip) for ip in p.items("line_items")]
    if mode != "setup" and not items:
        raise errors.missing_param("line_items")
    recurring = [i for i in items if i["price"]["recurring"]]
    if mode == "payment" and recurring:
        raise errors.invalid("You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or "
                             "use only one-time prices.", "line_items")
    if mode == "subscription" and not recurring:
        raise errors.invalid("You must provide at least one recurring price in `subscription` mode when using prices.", "line_items")
    currencies = {i["currency"] for i in items}
    if len(currencies) > 1:
        raise errors.invalid("All line items must use the same currency.", "line_items")
    subtotal = sum(i["amount_subtotal"] for i in items)
    expires = p.int("expires_at") or ctx.now + DAY
    if not ctx.now + 1800 <= expires <= ctx.now + DAY:
        raise errors.invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.", "expires_at")
    id_ = new_id("cs_test", 58)
    session = new(ctx, "checkout.session", "cs_test", {
        "after_expiration": None, "allow_promotion_codes": p.bool("allow_promotion_codes"), "amount_subtotal": subtotal if items else None,
        "amount_total": subtotal if items else None, "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": p.str("billing_address_collection"), "cancel_url": p.str("cancel_url"),
        "client_reference_id": p.str("client_reference_id"), "client_secret": None, "consent": None, "consent_collection": None,
        "currency": currencies.pop() if currencies else p.str("currency"), "custom_fields": [], "custom_text": {},
        "customer": customer, "customer_creation": p.str("customer_creation", "if_required") if mode == "payment" else None,
        "customer_details": None, "customer_email": p.str("customer_email"), "discounts": [], "expires_at": expires,
        "invoice": None, "invoice_creation": None, "locale": p.str("locale"), "metadata": p.metadata(), "mode": mode,
        "payment_intent": None, "payment_link": None, "payment_method_collection": p.str("payment_method_collection", "always"),
        "payment_method_options": {}, "payment_method_types": p.strings("payment_method_types") or ["card"],
        "payment_status": "no_payment_required" if mode == "setup" else "unpaid", "phone_number_collection": {"enabled": False},
        "recovered_from": None, "setup_intent": None, "shipping_address_collection": None, "shipping_cost": None,
        "shipping_options": [], "status": "open", "submit_type": p.str("submit_type"), "subscription": None,
        "success_url": p.str("success_url"), "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted", "url": f"{ctx.emu.public_url}/c/pay/{id_}",
        "_line_items": list_of(items, f"/v1/checkout/sessions/{id_}/line_items"),
        "_payment_intent_data": p.raw("payment_intent_data") or {}, "_subscription_data": p.raw("subscription_data") or {},
        "_setup_intent_data": p.raw("setup_intent_data") or {}, "_attempt": None,
    }, id_)
    return ctx.put(session)


def line_item(ctx: Ctx, ip: Params) -> dict:
    if ip.given("price_data"):
        data = ip.sub("price_data")
        price = catalog_price(ctx, data)
    else:
        price = ctx.get("price", ip.str("price", required=True), ip.name("price"), kind="price")
        if not price["active"]:
            raise errors.invalid(f"The price `{price['id']}` is not active.", ip.name("price"))
    quantity = ip.int("quantity", 1, minimum=1)
    amount = (price["unit_amount"] or 0) * quantity
    product = ctx.store.get(price["product"], "product") or {}
    return {"id": new_id("li"), "object": "item", "amount_discount": 0, "amount_subtotal": amount, "amount_tax": 0, "amount_total": amount,
            "currency": price["currency"], "description": product.get("name") or price["product"], "price": price, "quantity": quantity}


def catalog_price(ctx: Ctx, data: Params) -> dict:
    from devstack.stubs.stripe import catalog

    if data.given("product"):
        ctx.get("product", data.str("product"), data.name("product"), kind="product")
        return catalog.make_price(ctx, data, data.str("product"))
    return catalog.make_price(ctx, data)


def expire(ctx: Ctx, session: dict) -> dict:
    if session["status"] != "open":
        raise errors.invalid(f'Only Checkout Sessions with a status in ["open"] can be expired. This session has status "{session["status"]}".')
    before = copy.deepcopy(session)
    session.update(status="expired", url=None)
    ctx.put(session)
    ctx.emit("checkout.session.expired", session, before)
    return session


# -- completion ---------------------------------------------------------------------------

class NeedsAuthentication(Exception):
    """The card asks for authentication: the page sends the payer to the bank's challenge, then back."""

    def __init__(self, intent: dict):
        super().__init__(intent["id"])
        self.intent = intent


def complete(ctx: Ctx, session: dict, card: Params | None = None, payment_method: str | None = None,
             email: str | None = None, name: str | None = None) -> dict:
    """Pay (or save the card for) an open session. Raises StripeError for a declined card (the page shows it)
    and NeedsAuthentication when the card asks for it; finish() is called again after the challenge."""
    if session["status"] != "open":
        raise errors.invalid(f"This Checkout Session is {session['status']}; it can no longer be completed.", code="checkout_session_unexpected_state")
    email = email or session["customer_email"] or _customer_email(ctx, session) or "customer@example.com"
    billing_details = {"email": email, **({"name": name} if name else {})}
    if payment_method:
        pm = customers.resolve_payment_method(ctx, payment_method, "payment_method")
    else:
        pm = customers.card_payment_method(ctx, Params({"type": "card", "card": (card.data if card else {}), "billing_details": billing_details}))
    session["customer_details"] = {"address": None, "email": email, "name": name, "phone": None, "tax_exempt": "none", "tax_ids": []}
    ctx.put(session)
    if session["mode"] == "payment":
        return _pay(ctx, session, pm)
    if session["mode"] == "subscription":
        return _subscribe(ctx, session, pm)
    return _setup(ctx, session, pm)


def _customer_email(ctx: Ctx, session: dict) -> str | None:
    return (ctx.store.get(session["customer"], "customer") or {}).get("email") if session.get("customer") else None


def _customer(ctx: Ctx, session: dict, create: bool) -> str | None:
    if session.get("customer") or not create:
        return session.get("customer")
    details = session["customer_details"]
    customer = customers.create_customer(ctx.sub({"email": details["email"], **({"name": details["name"]} if details.get("name") else {})}))
    session["customer"] = customer["id"]
    ctx.put(session)
    return customer["id"]


def _pay(ctx: Ctx, session: dict, pm: dict) -> dict:
    data = Params(session["_payment_intent_data"])
    customer = _customer(ctx, session, session.get("customer_creation") == "always" or bool(data.str("setup_future_usage")))
    pi = ctx.store.get(session["_attempt"] or "", "payment_intent")
    if pi is None or pi["status"] not in payments.CONFIRMABLE:
        pi = payments.create_payment_intent(ctx.sub({
            "amount": session["amount_total"], "currency": session["currency"], **({"customer": customer} if customer else {}),
            "metadata": data.raw("metadata") or {}, "description": data.str("description"), "capture_method": data.str("capture_method"),
            "setup_future_usage": data.str("setup_future_usage"), "receipt_email": session["customer_details"]["email"]}))
        session["_attempt"] = pi["id"]
        ctx.put(session)
    pi = payments.confirm(ctx, pi, Params({"payment_method": pm["id"], "return_url": return_url(ctx, session)}))
    if pi["status"] == "requires_action":
        raise NeedsAuthentication(pi)
    return finish(ctx, session)


def _subscribe(ctx: Ctx, session: dict, pm: dict) -> dict:
    data = Params(session["_subscription_data"])
    items = session["_line_items"]["data"]
    trial = data.given("trial_period_days") or data.given("trial_end")
    due_now = sum(i["amount_total"] for i in items if not trial or not i["price"]["recurring"])
    # Checkout checks the card first: a declined one creates nothing.
    if pm["_behaviour"] in cards.FAILS_SETUP or (due_now and pm["_behaviour"] in cards.FAILURES):
        code, decline, message = cards.failure(pm["_behaviour"])
        raise StripeError(402, "card_error", message, code=code, decline_code=decline, commit=False)
    customer = _customer(ctx, session, True)
    customers.attach(ctx, pm, customer)
    recurring = [{"price": i["price"]["id"], "quantity": str(i["quantity"])} for i in items if i["price"]["recurring"]]
    one_time = [(i["price"], i["quantity"]) for i in items if not i["price"]["recurring"]]
    params = {"customer": customer, "items": recurring, "default_payment_method": pm["id"], "metadata": data.raw("metadata") or {},
              "description": data.str("description"), "payment_behavior": "allow_incomplete"}
    for key in ("trial_period_days", "trial_end"):
        if data.given(key):
            params[key] = data.raw(key)
    sub = billing.create_subscription(ctx.sub(params), first_lines=one_time)
    session.update(subscription=sub["id"], invoice=sub["latest_invoice"])
    ctx.put(session)
    invoice = ctx.store.get(sub["latest_invoice"] or "", "invoice") or {}
    pi = ctx.store.get(invoice.get("payment_intent") or "", "payment_intent")
    if pi and pi["status"] == "requires_action":
        raise NeedsAuthentication(pi)
    return finish(ctx, session)


def _setup(ctx: Ctx, session: dict, pm: dict) -> dict:
    data = Params(session["_setup_intent_data"])
    customer = _customer(ctx, session, session.get("customer_creation") == "always")
    si = ctx.store.get(session["setup_intent"] or "", "setup_intent")
    if si is None or si["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        si = customers.create_setup_intent(ctx.sub({**({"customer": customer} if customer else {}), "metadata": data.raw("metadata") or {},
                                                    "usage": "off_session", "description": data.str("description")}))
        session["setup_intent"] = si["id"]
        ctx.put(session)
    si = customers.confirm_setup(ctx, si, Params({"payment_method": pm["id"], "return_url": return_url(ctx, session)}))
    if si["status"] == "requires_action":
        raise NeedsAuthentication(si)
    return finish(ctx, session)


def return_url(ctx: Ctx, session: dict) -> str:
    return f"{ctx.emu.public_url}/c/pay/{session['id']}/return"


def finish(ctx: Ctx, session: dict) -> dict:
    """Complete the session if its payment (or setup) went through; the session unchanged otherwise."""
    session = ctx.get("checkout.session", session["id"])
    if session["status"] != "open":
        return session
    before = copy.deepcopy(session)
    if session["mode"] == "payment":
        pi = ctx.store.get(session["_attempt"] or "", "payment_intent")
        if not pi or pi["status"] not in ("succeeded", "requires_capture"):
            return session
        session.update(payment_intent=pi["id"], payment_status="paid" if pi["status"] == "succeeded" else "unpaid",
                       customer=session.get("customer") or pi.get("customer"))
    elif session["mode"] == "subscription":
        sub = ctx.store.get(session["subscription"] or "", "subscription")
        if not sub or sub["status"] not in ("active", "trialing"):
            return session
        invoice = ctx.store.get(sub["latest_invoice"] or "", "invoice") or {}
        session["payment_status"] = "paid" if invoice.get("amount_paid") else "no_payment_required"
    else:
        si = ctx.store.get(session["setup_intent"] or "", "setup_intent")
        if not si or si["status"] != "succeeded":
            return session
    session.update(status="complete", url=None)
    ctx.put(session)
    ctx.emit("checkout.session.completed", session, before)
    return session


def success_redirect(session: dict) -> str | None:
    url = session.get("success_url")
    return url.replace("{CHECKOUT_SESSION_ID}", session["id"]) if url else None


# -- routes -------------------------------------------------------------------------------

def list_sessions(ctx: Ctx) -> dict:
    items = equal_filter(ctx.params, ctx.store.all("checkout.session"), "customer", "payment_intent", "subscription", "status",
                         "payment_link")
    return page(ctx, items, "/v1/checkout/sessions")


def update_session(ctx: Ctx, id: str) -> dict:
    session = ctx.get("checkout.session", id, kind="checkout.session")
    session["metadata"] = ctx.params.metadata(session["metadata"])
    return ctx.put(session)


ROUTES = [
    Route("POST", "/v1/checkout/sessions", create_session),
    Route("GET", "/v1/checkout/sessions", list_sessions),
    Route("GET", "/v1/checkout/sessions/{id}", lambda ctx, id: ctx.get("checkout.session", id, kind="checkout.session")),
    Route("POST", "/v1/checkout/sessions/{id}", update_session),
    Route("GET", "/v1/checkout/sessions/{id}/line_items",
          lambda ctx, id: page(ctx, ctx.get("checkout.session", id, kind="checkout.session")["_line_items"]["data"],
                               f"/v1/checkout/sessions/{id}/line_items")),
    Route("POST", "/v1/checkout/sessions/{id}/expire", lambda ctx, id: expire(ctx, ctx.get("checkout.session", id, kind="checkout.session"))),
]
