"""Payment intents (create, confirm, capture, cancel), their charges, and refunds."""
from __future__ import annotations

import copy

from devstack.stubs.stripe import cards, errors
from devstack.stubs.stripe.customers import (attach, auth_action, card_payment_method, check_client_secret, client_secret,
                                             resolve_payment_method, retrieve_intent, setup_succeeded)
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx, Route, equal_filter, list_of, new, page, render, search
from devstack.stubs.stripe.store import new_id

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing")
# What billing does when an invoice's payment intent succeeds or fails: set by
# devstack.stubs.stripe.billing at import (it imports this module, not the reverse).
invoice_hooks: dict = {}

AUTH_FAILED = ("The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new "
               "PaymentMethod to attempt to fulfill this PaymentIntent again.")


def create_payment_intent(ctx: Ctx, invoice: str | None = None) -> dict:
    p = ctx.params
    amount = p.int("amount", required=True, minimum=1)
    customer = p.str("customer")
    if customer:
        ctx.get("customer", customer, "customer", kind="customer")
    id_ = new_id("pi")
    apm = p.sub("automatic_payment_methods")
    pi = new(ctx, "payment_intent", "pi", {
        "amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 0, "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": apm.str("allow_redirects", "always"), "enabled": True} if apm.bool("enabled") else None,
        "canceled_at": None, "cancellation_reason": None, "capture_method": p.str("capture_method", "automatic",
                                                                                   choices=("automatic", "automatic_async", "manual")),
        "client_secret": client_secret(id_), "confirmation_method": p.str("confirmation_method", "automatic"),
        "currency": p.str("currency", required=True).lower(), "customer": customer, "description": p.str("description"),
        "invoice": invoice, "last_payment_error": None, "latest_charge": None, "metadata": p.metadata(), "next_action": None,
        "on_behalf_of": None, "payment_method": None, "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": p.strings("payment_method_types") or ["card"], "processing": None,
        "receipt_email": p.str("receipt_email"), "review": None, "setup_future_usage": p.str("setup_future_usage"),
        "shipping": None, "source": None, "statement_descriptor": p.str("statement_descriptor"),
        "statement_descriptor_suffix": p.str("statement_descriptor_suffix"), "status": "requires_payment_method",
        "transfer_data": None, "transfer_group": p.str("transfer_group"),
    }, id_)
    if p.given("payment_method"):
        pi["payment_method"] = resolve_payment_method(ctx, p.str("payment_method"), "payment_method")["id"]
        pi["status"] = "requires_confirmation"
    ctx.put(pi)
    ctx.emit("payment_intent.created", pi)
    if p.bool("confirm", False):
        return confirm(ctx, pi, p)
    return pi


def update_payment_intent(ctx: Ctx, id: str) -> dict:
    pi = ctx.get("payment_intent", id, kind="payment_intent")
    if pi["status"] in ("succeeded", "canceled"):
        raise errors.unexpected_state(f"This PaymentIntent's status is {pi['status']}; it cannot be updated.")
    p = ctx.params
    if p.given("amount"):
        pi["amount"] = p.int("amount", minimum=1)
    if p.given("currency"):
        pi["currency"] = p.str("currency").lower()
    if p.given("customer"):
        pi["customer"] = ctx.get("customer", p.str("customer"), "customer", kind="customer")["id"]
    if p.given("payment_method"):
        pi["payment_method"] = resolve_payment_method(ctx, p.str("payment_method"), "payment_method")["id"]
        pi["status"] = "requires_confirmation"
    p.update(pi, "description", "receipt_email", "setup_future_usage", "statement_descriptor", "statement_descriptor_suffix")
    pi["metadata"] = p.metadata(pi["metadata"])
    return ctx.put(pi)


def confirm_route(ctx: Ctx, id: str) -> dict:
    pi = ctx.get("payment_intent", id, kind="payment_intent")
    check_client_secret(ctx, pi)
    return confirm(ctx, pi, ctx.params)


def confirm(ctx: Ctx, pi: dict, p: Params) -> dict:
    if pi["status"] not in CONFIRMABLE:
        raise errors.unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}. Only a PaymentIntent with one of "
            "the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action.",
            payment_intent=render(pi))
    if p.given("payment_method"):
        pi["payment_method"] = resolve_payment_method(ctx, p.str("payment_method"), "payment_method")["id"]
    elif p.given("payment_method_data"):
        pi["payment_method"] = card_payment_method(ctx, p.sub("payment_method_data"))["id"]
    if not pi["payment_method"]:
        raise errors.unexpected_state("You cannot confirm this PaymentIntent because it's missing a payment method. "
                                      "Pass `payment_method` (a test card: pm_card_visa).", param="payment_method")
    if p.given("setup_future_usage"):
        pi["setup_future_usage"] = p.str("setup_future_usage")
    pm = ctx.get("payment_method", pi["payment_method"], "payment_method", kind="PaymentMethod")
    behaviour = pm["_behaviour"]
    needs_auth = behaviour == "auth_always" or (behaviour == "auth_once" and not pm["_authenticated"])
    if needs_auth and p.bool("off_session", False):
        return fail(ctx, pi, pm, "authentication_required")
    if needs_auth:
        before = copy.deepcopy(pi)
        pi.update(status="requires_action", next_action=auth_action(ctx, pi, p.str("return_url")), last_payment_error=None)
        ctx.put(pi)
        ctx.emit("payment_intent.requires_action", pi, before)
        return pi
    if behaviour in cards.FAILURES:
        return fail(ctx, pi, pm, behaviour)
    return succeed(ctx, pi, pm)


def charge_for(ctx: Ctx, pi: dict, pm: dict, failure: tuple | None) -> dict:
    card = pm["card"]
    code, decline, message = failure or (None, None, None)
    charge = new(ctx, "charge", "ch", {
        "amount": pi["amount"], "amount_captured": 0, "amount_refunded": 0, "application": None, "application_fee": None,
        "application_fee_amount": None, "balance_transaction": None, "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "DEVSTACK", "captured": False, "currency": pi["currency"], "customer": pi["customer"],
        "description": pi["description"], "disputed": False, "failure_balance_transaction": None, "failure_code": code,
        "failure_message": message, "fraud_details": {}, "invoice": pi.get("invoice"), "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": {"network_status": "declined_by_network" if failure else "approved_by_network", "reason": decline,
                    "risk_level": "normal", "risk_score": 20,
                    "seller_message": "The bank did not return any further details with this decline." if failure else "Payment complete.",
                    "type": "issuer_declined" if failure else "authorized"},
        "paid": not failure, "payment_intent": pi["id"], "payment_method": pm["id"],
        "payment_method_details": {"card": {"brand": card["brand"], "checks": card["checks"], "country": card["country"],
                                            "exp_month": card["exp_month"], "exp_year": card["exp_year"], "fingerprint": card["fingerprint"],
                                            "funding": card["funding"], "last4": card["last4"], "network": card["brand"],
                                            "three_d_secure": None, "wallet": None}, "type": "card"},
        "receipt_email": pi["receipt_email"], "receipt_number": None, "receipt_url": None, "refunded": False,
        "review": None, "shipping": None, "source": None, "source_transfer": None, "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"], "status": "failed" if failure else "succeeded",
        "transfer_data": None, "transfer_group": pi["transfer_group"],
    })
    charge["refunds"] = list_of([], f"/v1/charges/{charge['id']}/refunds")
    return ctx.put(charge)


def fail(ctx: Ctx, pi: dict, pm: dict, behaviour: str) -> dict:
    """A declined payment: the charge and the intent record it, the events go out, the caller gets a 402."""
    before = copy.deepcopy(pi)
    failure = cards.failure(behaviour)
    code, decline, message = failure
    charge = charge_for(ctx, pi, pm, failure)
    ctx.emit("charge.failed", charge)
    pi.update(status="requires_payment_method", latest_charge=charge["id"], next_action=None,
              payment_method=pm["id"] if behaviour == "authentication_required" else None,
              last_payment_error={"charge": charge["id"], "code": code, "decline_code": decline, "doc_url": errors.DOCS + code.replace("_", "-"),
                                  "message": message, "payment_method": render(pm), "type": "card_error"})
    ctx.put(pi)
    ctx.emit("payment_intent.payment_failed", pi, before)
    if pi.get("invoice") and "failed" in invoice_hooks:
        invoice_hooks["failed"](ctx, pi)
    raise StripeError(402, "card_error", message, code=code, decline_code=decline, param="", charge=charge["id"],
                      payment_intent=render(pi), payment_method=render(pm))


def succeed(ctx: Ctx, pi: dict, pm: dict) -> dict:
    before = copy.deepcopy(pi)
    charge = charge_for(ctx, pi, pm, None)
    manual = pi["capture_method"] == "manual"
    if not manual:
        charge.update(captured=True, amount_captured=pi["amount"])
    ctx.put(charge)
    ctx.emit("charge.succeeded", charge)
    if pm["_behaviour"] == "auth_once":
        pm["_authenticated"] = True
        ctx.put(pm)
    if pi.get("setup_future_usage") and pi.get("customer") and not pm.get("customer"):
        attach(ctx, pm, pi["customer"])
    pi.update(latest_charge=charge["id"], next_action=None, last_payment_error=None)
    if manual:
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        ctx.put(pi)
        ctx.emit("payment_intent.amount_capturable_updated", pi, before)
        return pi
    pi.update(status="succeeded", amount_received=pi["amount"])
    ctx.put(pi)
    ctx.emit("payment_intent.succeeded", pi, before)
    if pi.get("invoice") and "paid" in invoice_hooks:
        invoice_hooks["paid"](ctx, pi)
    return pi


def authenticated(ctx: Ctx, intent: dict, ok: bool) -> dict:
    """The outcome of the authentication page, for a payment or a setup intent waiting on it."""
    if intent["status"] != "requires_action":
        return intent
    before = copy.deepcopy(intent)
    pm = ctx.get("payment_method", intent["payment_method"], kind="PaymentMethod")
    if intent["object"] == "setup_intent":
        if ok:
            return setup_succeeded(ctx, intent, before)
        intent.update(status="requires_payment_method", next_action=None, payment_method=None,
                      last_setup_error={"code": "setup_intent_authentication_failure", "message": AUTH_FAILED.replace("PaymentIntent", "SetupIntent"),
                                        "payment_method": render(pm), "type": "invalid_request_error"})
        ctx.put(intent)
        ctx.emit("setup_intent.setup_failed", intent, before)
        return intent
    if ok:
        if pm["_behaviour"] in cards.FAILURES:
            try:
                fail(ctx, intent, pm, pm["_behaviour"])
            except StripeError:
                return ctx.get("payment_intent", intent["id"])
        return succeed(ctx, intent, pm)
    intent.update(status="requires_payment_method", next_action=None, payment_method=None,
                  last_payment_error={"code": "payment_intent_authentication_failure", "message": AUTH_FAILED,
                                      "payment_method": render(pm), "type": "invalid_request_error"})
    ctx.put(intent)
    ctx.emit("payment_intent.payment_failed", intent, before)
    if intent.get("invoice") and "failed" in invoice_hooks:
        invoice_hooks["failed"](ctx, intent)
    return intent


def capture(ctx: Ctx, id: str) -> dict:
    pi = ctx.get("payment_intent", id, kind="payment_intent")
    if pi["status"] != "requires_capture":
        raise errors.unexpected_state(f"This PaymentIntent could not be captured because it has a status of {pi['status']}. "
                                      "Only a PaymentIntent with one of the following statuses may be captured: requires_capture.")
    amount = ctx.params.int("amount_to_capture", pi["amount"], minimum=1)
    if amount > pi["amount_capturable"]:
        raise errors.invalid(f"The amount to capture ({amount}) is greater than the amount capturable ({pi['amount_capturable']}).",
                             "amount_to_capture", "amount_too_large")
    before = copy.deepcopy(pi)
    charge = ctx.get("charge", pi["latest_charge"])
    charge_before = copy.deepcopy(charge)
    charge.update(captured=True, amount_captured=amount, amount_refunded=pi["amount"] - amount)
    ctx.put(charge)
    ctx.emit("charge.captured", charge, charge_before)
    pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
    pi["metadata"] = ctx.params.metadata(pi["metadata"])
    ctx.put(pi)
    ctx.emit("payment_intent.succeeded", pi, before)
    return pi


def cancel(ctx: Ctx, id: str) -> dict:
    pi = ctx.get("payment_intent", id, kind="payment_intent")
    if pi["status"] not in CANCELABLE:
        raise errors.unexpected_state(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                                      f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.")
    before = copy.deepcopy(pi)
    if pi["status"] == "requires_capture":
        charge = ctx.get("charge", pi["latest_charge"])
        charge.update(refunded=True, amount_refunded=charge["amount"])
        ctx.put(charge)
    pi.update(status="canceled", canceled_at=ctx.now, amount_capturable=0, next_action=None,
              cancellation_reason=ctx.params.str("cancellation_reason"))
    ctx.put(pi)
    ctx.emit("payment_intent.canceled", pi, before)
    return pi


def list_payment_intents(ctx: Ctx) -> dict:
    return page(ctx, equal_filter(ctx.params, ctx.store.all("payment_intent"), "customer"), "/v1/payment_intents")


# -- refunds ------------------------------------------------------------------------------

def create_refund(ctx: Ctx) -> dict:
    p = ctx.params
    if p.given("payment_intent"):
        pi = ctx.get("payment_intent", p.str("payment_intent"), "payment_intent", kind="payment_intent")
        if not pi.get("latest_charge") or pi["status"] != "succeeded":
            raise errors.invalid(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.", "payment_intent",
                                 "charge_not_refundable" if pi.get("latest_charge") else "resource_missing")
        charge_id = pi["latest_charge"]
    else:
        charge_id = p.str("charge", required=True)
    charge = ctx.get("charge", charge_id, "charge", kind="charge")
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise errors.invalid(f"Charge {charge['id']} has not been captured or did not succeed; it cannot be refunded.", "charge",
                             "charge_not_refundable")
    left = charge["amount_captured"] - charge["amount_refunded"]
    amount = p.int("amount", left, minimum=1)
    if left <= 0:
        raise errors.invalid(f"Charge {charge['id']} has already been refunded.", "charge", "charge_already_refunded")
    if amount > left:
        raise errors.invalid(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})", "amount", "amount_too_large")
    refund = new(ctx, "refund", "re", {
        "amount": amount, "balance_transaction": None, "charge": charge["id"], "currency": charge["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"}, "metadata": p.metadata(),
        "payment_intent": charge["payment_intent"], "reason": p.str("reason"), "receipt_number": None,
        "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None,
    })
    ctx.put(refund)
    ctx.emit("refund.created", refund)
    before = copy.deepcopy(charge)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    charge["refunds"]["data"].insert(0, refund)
    charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
    ctx.put(charge)
    ctx.emit("charge.refunded", charge, before)
    return refund


def update_refund(ctx: Ctx, id: str) -> dict:
    refund = ctx.get("refund", id, kind="refund")
    refund["metadata"] = ctx.params.metadata(refund["metadata"])
    return ctx.put(refund)


def update_charge(ctx: Ctx, id: str) -> dict:
    charge = ctx.get("charge", id, kind="charge")
    before = copy.deepcopy(charge)
    ctx.params.update(charge, "description", "receipt_email")
    charge["metadata"] = ctx.params.metadata(charge["metadata"])
    ctx.put(charge)
    ctx.emit("charge.updated", charge, before)
    return charge


ROUTES = [
    Route("POST", "/v1/payment_intents", create_payment_intent),
    Route("GET", "/v1/payment_intents", list_payment_intents),
    Route("GET", "/v1/payment_intents/search", lambda ctx: search(ctx, ctx.store.all("payment_intent"), "/v1/payment_intents/search")),
    Route("GET", "/v1/payment_intents/{id}", retrieve_intent("payment_intent"), public=True),
    Route("POST", "/v1/payment_intents/{id}", update_payment_intent),
    Route("POST", "/v1/payment_intents/{id}/confirm", confirm_route, public=True),
    Route("POST", "/v1/payment_intents/{id}/capture", capture),
    Route("POST", "/v1/payment_intents/{id}/cancel", cancel),
    Route("GET", "/v1/charges", lambda ctx: page(ctx, equal_filter(ctx.params, ctx.store.all("charge"), "customer", "payment_intent"),
                                                 "/v1/charges")),
    Route("GET", "/v1/charges/search", lambda ctx: search(ctx, ctx.store.all("charge"), "/v1/charges/search")),
    Route("GET", "/v1/charges/{id}", lambda ctx, id: ctx.get("charge", id, kind="charge")),
    Route("POST", "/v1/charges/{id}", update_charge),
    Route("POST", "/v1/refunds", create_refund),
    Route("GET", "/v1/refunds", lambda ctx: page(ctx, equal_filter(ctx.params, ctx.store.all("refund"), "charge", "payment_intent"),
                                                 "/v1/refunds")),
    Route("GET", "/v1/refunds/{id}", lambda ctx, id: ctx.get("refund", id, kind="refund")),
    Route("POST", "/v1/refunds/{id}", update_refund),
]
