"""Billing portal sessions: a local page where the customer cancels (or renews) a plan and changes the card.

Cancelling follows the portal's default setting: at the end of the billing
period (`cancel_at_period_end`), so `customer.subscription.updated` arrives now
and `customer.subscription.deleted` when the period ends (`devstack stripe advance`).
"""
from __future__ import annotations

from devstack.stubs.stripe import billing, customers, errors
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx, Route, new
from devstack.stubs.stripe.store import new_id

CONFIGURATION = "bpc_devstack_default"
FLOWS = ("payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm")


def create_session(ctx: Ctx) -> dict:
    p = ctx.params
    customer = ctx.get("customer", p.str("customer", required=True), "customer", kind="customer")
    flow = None
    if p.given("flow_data"):
        f = p.sub("flow_data")
        type_ = f.str("type", required=True, choices=FLOWS)
        flow = {"type": type_, "after_completion": f.raw("after_completion") or {"type": "portal_homepage"}, **{
            k: f.raw(k) for k in FLOWS if f.given(k)}}
        cancel = f.sub("subscription_cancel")
        if type_ == "subscription_cancel":
            sub = ctx.get("subscription", cancel.str("subscription", required=True), cancel.name("subscription"), kind="subscription")
            if sub["customer"] != customer["id"]:
                raise errors.invalid("The subscription belongs to another customer.", cancel.name("subscription"))
    id_ = new_id("bps")
    session = new(ctx, "billing_portal.session", "bps", {
        "configuration": p.str("configuration", CONFIGURATION), "customer": customer["id"], "flow": flow, "locale": p.str("locale"),
        "on_behalf_of": None, "return_url": p.str("return_url"), "url": f"{ctx.emu.public_url}/p/session/{id_}",
    }, id_)
    ctx.put(session)
    ctx.emit("billing_portal.session.created", session)
    return session


def owned_subscription(ctx: Ctx, session: dict, sub_id: str) -> dict:
    sub = ctx.get("subscription", sub_id, "subscription", kind="subscription")
    if sub["customer"] != session["customer"]:
        raise errors.invalid("That subscription belongs to another customer.", "subscription")
    return sub


def cancel(ctx: Ctx, session: dict, sub_id: str, reason: str | None = None) -> dict:
    owned_subscription(ctx, session, sub_id)
    params = {"cancel_at_period_end": "true", **({"cancellation_details": {"feedback": reason}} if reason else {})}
    return billing.update_subscription(ctx.sub(params), sub_id)


def renew(ctx: Ctx, session: dict, sub_id: str) -> dict:
    owned_subscription(ctx, session, sub_id)
    return billing.update_subscription(ctx.sub({"cancel_at_period_end": "false"}), sub_id)


def update_card(ctx: Ctx, session: dict, card: Params, name: str | None = None) -> dict:
    """The new card becomes the customer's default and every live subscription's."""
    pm = customers.card_payment_method(ctx, Params({"type": "card", "card": card.data, "billing_details": {"name": name} if name else {}}))
    customers.attach(ctx, pm, session["customer"])
    customer = ctx.get("customer", session["customer"])
    customers.set_default_payment_method(ctx, customer, pm)
    for sub in ctx.store.find("subscription", customer=session["customer"]):
        if sub["status"] in billing.LIVE and sub.get("default_payment_method"):
            billing.update_subscription(ctx.sub({"default_payment_method": pm["id"]}), sub["id"])
    return pm


ROUTES = [
    Route("POST", "/v1/billing_portal/sessions", create_session),
]
