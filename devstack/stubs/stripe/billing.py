"""Subscriptions and their invoices: create, update, cancel; each period billed and paid (or failed).

Invoices are finalized and charged at once (Stripe waits about an hour after
`invoice.created`). Price and quantity changes apply from the next period: no
proration invoices are made. A failed renewal makes the subscription
`past_due` and is retried 3, 5 and 7 days later; when the last retry fails the
subscription is canceled (Stripe's default setting).
"""
from __future__ import annotations

import copy

from devstack.stubs.stripe import catalog, errors, payments
from devstack.stubs.stripe.clock import add_interval
from devstack.stubs.stripe.customers import resolve_owned
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx, Route, deleted, equal_filter, list_of, new, page, search
from devstack.stubs.stripe.store import new_id

DAY = 86400
RETRY_DAYS = (3, 5, 7)  # after the first failed attempt, each counted from the previous one
LIVE = ("trialing", "active", "past_due", "unpaid", "incomplete", "paused")
INCOMPLETE_EXPIRES = 23 * 3600


# -- prices as plans and items ------------------------------------------------------------

def plan_of(price: dict) -> dict:
    """The legacy `plan` hash older SDK versions and apps still read (subscription.plan.id)."""
    r = price.get("recurring") or {}
    return {"id": price["id"], "object": "plan", "active": price["active"], "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"], "billing_scheme": "per_unit", "created": price["created"],
            "currency": price["currency"], "interval": r.get("interval"), "interval_count": r.get("interval_count"),
            "livemode": False, "metadata": price["metadata"], "meter": None, "nickname": price["nickname"],
            "product": price["product"], "tiers_mode": None, "transform_usage": None,
            "trial_period_days": r.get("trial_period_days"), "usage_type": r.get("usage_type", "licensed")}


def item_price(ctx: Ctx, p: Params) -> dict:
    if p.given("price_data"):
        data = p.sub("price_data")
        product = data.str("product", required=True)
        ctx.get("product", product, data.name("product"), kind="product")
        return catalog.make_price(ctx, data, product)
    price_id = p.str("price") or p.str("plan")
    if not price_id:
        raise errors.missing_param(p.name("price"))
    price = ctx.get("price", price_id, p.name("price"), kind="price")
    if not price["active"]:
        raise errors.invalid("The price specified is inactive. This field only accepts active prices.", p.name("price"))
    return price


def new_item(ctx: Ctx, sub: dict, price: dict, quantity: int, metadata: dict) -> dict:
    return {"id": new_id("si", 14), "object": "subscription_item", "billing_thresholds": None, "created": ctx.now,
            "current_period_end": sub["current_period_end"], "current_period_start": sub["current_period_start"], "discounts": [],
            "metadata": metadata, "plan": plan_of(price), "price": price, "quantity": quantity, "subscription": sub["id"], "tax_rates": []}


def refresh_legacy(sub: dict) -> None:
    """Top-level fields that mirror the items: plan/quantity (one item), period on every item."""
    items = sub["items"]["data"]
    sub["plan"] = items[0]["plan"] if len(items) == 1 else None
    sub["quantity"] = items[0]["quantity"] if len(items) == 1 else None
    for item in items:
        item["current_period_start"], item["current_period_end"] = sub["current_period_start"], sub["current_period_end"]


# -- subscriptions ------------------------------------------------------------------------

def create_subscription(ctx: Ctx, first_lines: list[tuple[dict, int]] | None = None) -> dict:
    p = ctx.params
    customer = ctx.get("customer", p.str("customer", required=True), "customer", kind="customer")
    behavior = p.str("payment_behavior", "allow_incomplete",
                     choices=("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"))
    collection = p.str("collection_method", "charge_automatically", choices=("charge_automatically", "send_invoice"))
    if not p.list("items"):
        raise errors.missing_param("items")
    prices = [(item_price(ctx, ip), ip.int("quantity", 1, minimum=0), ip.metadata()) for ip in p.items("items")]
    recurring = [pr for pr, _, _ in prices if pr["recurring"]]
    if len(recurring) != len(prices):
        raise errors.invalid("The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
                             "items[0][price]")
    intervals = {(pr["recurring"]["interval"], pr["recurring"]["interval_count"]) for pr in recurring}
    currencies = {pr["currency"] for pr, _, _ in prices}
    if len(intervals) > 1 or len(currencies) > 1:
        raise errors.invalid("All prices on a subscription must have the same `recurring.interval`, `recurring.interval_count` and currency.",
                             "items")
    interval, count = intervals.pop()
    pm_id = p.str("default_payment_method")
    pm = resolve_owned(ctx, pm_id, customer["id"], "default_payment_method") if pm_id else None
    trial_end = trial_end_of(ctx, p, recurring)
    start = ctx.now
    period_end = trial_end or add_interval(start, interval, count)
    id_ = new_id("sub")
    sub = new(ctx, "subscription", "sub", {
        "application": None, "application_fee_percent": None, "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": period_end if trial_end else start, "billing_cycle_anchor_config": None, "billing_thresholds": None,
        "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None}, "collection_method": collection,
        "currency": currencies.pop(), "current_period_end": period_end, "current_period_start": start, "customer": customer["id"],
        "days_until_due": p.int("days_until_due", 30 if collection == "send_invoice" else None), "default_payment_method": pm and pm["id"],
        "default_source": None, "default_tax_rates": [], "description": p.str("description"), "discount": None, "discounts": [],
        "ended_at": None, "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": list_of([], f"/v1/subscription_items?subscription={id_}"), "latest_invoice": None, "metadata": p.metadata(),
        "next_pending_invoice_item_invoice": None, "on_behalf_of": None, "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": p.sub("payment_settings").str("save_default_payment_method", "off")},
        "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None, "schedule": None,
        "start_date": start, "status": "incomplete", "test_clock": None, "transfer_data": None, "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}}, "trial_start": start if trial_end else None,
        "_payment_behavior": behavior,
    }, id_)
    sub["items"]["data"] = [new_item(ctx, sub, pr, qty, meta) for pr, qty, meta in prices]
    refresh_legacy(sub)
    extra = list(first_lines or []) + [(item_price(ctx, ip), ip.int("quantity", 1, minimum=1)) for ip in p.items("add_invoice_items")]
    lines = first_invoice_lines(ctx, sub, extra)
    total = sum(line["amount"] for line in lines)
    payer = pm or default_method(ctx, sub)
    if total and collection == "charge_automatically" and not payer and behavior != "default_incomplete":
        raise errors.invalid("This customer has no attached payment source or default payment method. Please consider adding a "
                             "default payment method.", code="resource_missing")
    sub["status"] = predicted_status(sub, total, payer, behavior)
    if p.bool("cancel_at_period_end", False):
        sub.update(cancel_at_period_end=True, cancel_at=sub["current_period_end"], canceled_at=ctx.now)
    ctx.put(sub)
    ctx.emit("customer.subscription.created", sub)
    invoice = bill(ctx, sub, "subscription_create", lines, first=True)
    sub = ctx.get("subscription", id_)
    if behavior == "error_if_incomplete" and invoice["status"] != "paid":
        failure = (ctx.store.get(invoice.get("payment_intent") or "") or {}).get("last_payment_error") or {}
        raise StripeError(402, "card_error", failure.get("message") or "Your card was declined.", code=failure.get("code"),
                          decline_code=failure.get("decline_code"), commit=False)
    return sub


def trial_end_of(ctx: Ctx, p: Params, prices: list[dict]) -> int | None:
    if p.given("trial_end"):
        end = p.timestamp("trial_end", ctx.now, allow_now=True)
        if end <= ctx.now:
            return None
        return end
    days = p.int("trial_period_days")
    if days is None and p.bool("trial_from_plan", False):
        days = max((pr["recurring"].get("trial_period_days") or 0) for pr in prices) or None
    return ctx.now + days * DAY if days else None


def predicted_status(sub: dict, total: int, payer: dict | None, behavior: str) -> str:
    """The status the first invoice's payment will leave, so `customer.subscription.created` already shows it."""
    if sub["trial_end"]:
        return "trialing"
    if total == 0 or sub["collection_method"] == "send_invoice":
        return "active"
    if behavior == "default_incomplete" or payer is None:
        return "incomplete"
    return "active" if payer["_behaviour"] == "ok" or (payer["_behaviour"] == "auth_once" and payer["_authenticated"]) else "incomplete"


def default_method(ctx: Ctx, sub: dict) -> dict | None:
    pm_id = sub.get("default_payment_method")
    if not pm_id:
        customer = ctx.store.get(sub["customer"], "customer") or {}
        pm_id = (customer.get("invoice_settings") or {}).get("default_payment_method")
    return ctx.store.get(pm_id, "payment_method") if pm_id else None


def update_subscription(ctx: Ctx, id: str) -> dict:
    sub = ctx.get("subscription", id, kind="subscription")
    p = ctx.params
    before = copy.deepcopy(sub)
    if sub["status"] in ("canceled", "incomplete_expired"):
        if set(p.data) - {"metadata", "cancellation_details", "expand"}:
            raise errors.invalid("A canceled subscription can only update its cancellation_details and metadata.")
    for ip in p.items("items"):
        change_item(ctx, sub, ip)
    if not sub["items"]["data"]:
        raise errors.invalid("A subscription must have at least one active plan.", "items")
    if "cancel_at_period_end" in p:
        wanted = p.bool("cancel_at_period_end")
        sub["cancel_at_period_end"] = wanted
        sub["cancel_at"] = sub["current_period_end"] if wanted else None
        sub["canceled_at"] = ctx.now if wanted else None
    if "cancel_at" in p:
        at = p.timestamp("cancel_at", ctx.now, allow_now=False) if p.given("cancel_at") else None
        sub.update(cancel_at=at, cancel_at_period_end=at == sub["current_period_end"], canceled_at=ctx.now if at else None)
    if p.given("cancellation_details"):
        details = p.sub("cancellation_details")
        sub["cancellation_details"].update({k: details.str(k) for k in ("comment", "feedback") if k in details})
    if "default_payment_method" in p:
        pm_id = p.str("default_payment_method")
        sub["default_payment_method"] = resolve_owned(ctx, pm_id, sub["customer"], "default_payment_method")["id"] if pm_id else None
    p.update(sub, "description")
    if p.given("collection_method"):
        sub["collection_method"] = p.str("collection_method", choices=("charge_automatically", "send_invoice"))
    if p.given("days_until_due"):
        sub["days_until_due"] = p.int("days_until_due")
    sub["metadata"] = p.metadata(sub["metadata"])
    end_trial = sub["status"] == "trialing" and p.given("trial_end") and p.timestamp("trial_end", ctx.now, allow_now=True) <= ctx.now
    if sub["status"] == "trialing" and p.given("trial_end") and not end_trial:
        sub["trial_end"] = sub["current_period_end"] = p.timestamp("trial_end", ctx.now)
    refresh_legacy(sub)
    ctx.put(sub)
    if end_trial:
        start_period(ctx, sub, ctx.now, before)
    else:
        ctx.emit("customer.subscription.updated", sub, before)
    return ctx.get("subscription", id)


def change_item(ctx: Ctx, sub: dict, ip: Params) -> None:
    items = sub["items"]["data"]
    if ip.given("id"):
        item = next((i for i in items if i["id"] == ip.str("id")), None)
        if item is None:
            raise errors.no_such("subscription_item", ip.str("id"), ip.name("id"))
        if ip.bool("deleted", False):
            items.remove(item)
            return
        if ip.given("price") or ip.given("price_data") or ip.given("plan"):
            price = item_price(ctx, ip)
            if price["currency"] != sub["currency"]:
                raise errors.invalid("The new price's currency must match the subscription's.", ip.name("price"))
            item["price"], item["plan"] = price, plan_of(price)
        if ip.given("quantity"):
            item["quantity"] = ip.int("quantity", minimum=0)
        item["metadata"] = ip.metadata(item["metadata"])
        return
    price = item_price(ctx, ip)
    items.append(new_item(ctx, sub, price, ip.int("quantity", 1, minimum=0), ip.metadata()))


def cancel_route(ctx: Ctx, id: str) -> dict:
    sub = ctx.get("subscription", id, kind="subscription")
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise errors.invalid(f"No such subscription: '{id}'. It has been canceled.", "id", "resource_missing")
    details = ctx.params.sub("cancellation_details")
    sub["cancellation_details"].update({k: details.str(k) for k in ("comment", "feedback") if k in details})
    return cancel_now(ctx, sub, "cancellation_requested")


def cancel_now(ctx: Ctx, sub: dict, reason: str) -> dict:
    before = copy.deepcopy(sub)
    sub.update(status="canceled", ended_at=ctx.now, canceled_at=sub.get("canceled_at") or ctx.now)
    sub["cancellation_details"]["reason"] = reason
    ctx.put(sub)
    for invoice in ctx.store.find("invoice", subscription=sub["id"], status="open"):
        invoice["next_payment_attempt"] = None
        ctx.put(invoice)
    ctx.emit("customer.subscription.deleted", sub, before)
    return sub


def delete_customer(ctx: Ctx, id: str) -> dict:
    """DELETE /v1/customers/{id}: its subscriptions end first, as on Stripe (here, where subscriptions are known)."""
    customer = ctx.get("customer", id, kind="customer")
    for sub in ctx.store.find("subscription", customer=id):
        if sub["status"] not in ("canceled", "incomplete_expired"):
            cancel_now(ctx, sub, "cancellation_requested")
    ctx.store.delete(id)
    ctx.emit("customer.deleted", customer)
    return deleted(customer)


def list_subscriptions(ctx: Ctx) -> dict:
    p = ctx.params
    items = equal_filter(p, ctx.store.all("subscription"), "customer", "collection_method")
    status = p.str("status")
    if status != "all":
        items = [s for s in items if (s["status"] == status if status else s["status"] not in ("canceled", "incomplete_expired"))]
    if p.given("price"):
        items = [s for s in items if any(i["price"]["id"] == p.str("price") for i in s["items"]["data"])]
    return page(ctx, items, "/v1/subscriptions")


def list_items(ctx: Ctx) -> dict:
    sub = ctx.get("subscription", ctx.params.str("subscription", required=True), "subscription", kind="subscription")
    return page(ctx, list(sub["items"]["data"]), f"/v1/subscription_items?subscription={sub['id']}")


def find_item(ctx: Ctx, id: str) -> tuple[dict, dict]:
    for sub in ctx.store.all("subscription"):
        for item in sub["items"]["data"]:
            if item["id"] == id:
                return sub, item
    raise errors.no_such("subscription_item", id)


def update_item(ctx: Ctx, id: str) -> dict:
    sub, _ = find_item(ctx, id)
    before = copy.deepcopy(sub)
    change_item(ctx, sub, Params({**ctx.params.data, "id": id}))
    refresh_legacy(sub)
    ctx.put(sub)
    ctx.emit("customer.subscription.updated", sub, before)
    return find_item(ctx, id)[1]


# -- periods and invoices -----------------------------------------------------------------

def first_invoice_lines(ctx: Ctx, sub: dict, extra: list[tuple[dict, int]]) -> list[dict]:
    lines = period_lines(ctx, sub)
    if sub["trial_end"]:  # the trial's $0 lines, as Stripe shows them
        lines = [dict(line, amount=0, description=f"Trial period for {product_name(ctx, line['price'])}") for line in lines]
    for price, quantity in extra:
        lines.append(line_for(ctx, sub, price, quantity, None, sub["current_period_start"], sub["current_period_start"]))
    return lines


def period_lines(ctx: Ctx, sub: dict) -> list[dict]:
    return [line_for(ctx, sub, item["price"], item["quantity"], item, sub["current_period_start"], sub["current_period_end"])
            for item in sub["items"]["data"]]


def product_name(ctx: Ctx, price: dict) -> str:
    return (ctx.store.get(price["product"], "product") or {}).get("name") or price["product"]


def line_for(ctx: Ctx, sub: dict, price: dict, quantity: int, item: dict | None, start: int, end: int) -> dict:
    amount = (price["unit_amount"] or 0) * quantity
    interval = (price.get("recurring") or {}).get("interval")
    each = f"${price['unit_amount'] / 100:.2f}" if price["currency"] == "usd" else f"{price['unit_amount'] / 100:.2f} {price['currency'].upper()}"
    each += f" / {interval}" if interval else ""
    return {
        "id": new_id("il"), "object": "line_item", "amount": amount, "currency": price["currency"],
        "description": f"{quantity} × {product_name(ctx, price)} (at {each})", "discount_amounts": [], "discountable": True, "discounts": [],
        "invoice": None, "livemode": False, "metadata": dict(item["metadata"]) if item else {},
        "parent": {"invoice_item_details": None, "subscription_item_details": {
            "invoice_item": None, "proration": False, "proration_details": {"credited_items": None}, "subscription": sub["id"],
            "subscription_item": item and item["id"]}, "type": "subscription_item_details"},
        "period": {"end": end, "start": start}, "plan": plan_of(price) if interval else None, "price": price,
        "pricing": {"price_details": {"price": price["id"], "product": price["product"]}, "type": "price_details",
                    "unit_amount_decimal": price["unit_amount_decimal"]},
        "proration": False, "quantity": quantity, "subscription": sub["id"], "subscription_item": item and item["id"],
        "taxes": [], "type": "subscription" if interval else "invoiceitem",
    }


def bill(ctx: Ctx, sub: dict, reason: str, lines: list[dict], first: bool = False) -> dict:
    """One invoice for a period: created, finalized, then paid (or failed) with the subscription's payment method."""
    customer = ctx.store.get(sub["customer"], "customer") or {}
    id_ = new_id("in")
    for line in lines:
        line["invoice"] = id_
    total = sum(line["amount"] for line in lines)
    start = min((line["period"]["start"] for line in lines), default=ctx.now)
    end = max((line["period"]["end"] for line in lines), default=ctx.now)
    invoice = new(ctx, "invoice", "in", {
        "account_country": "US", "account_name": "devstack", "account_tax_ids": None, "amount_due": total, "amount_overpaid": 0,
        "amount_paid": 0, "amount_remaining": total, "amount_shipping": 0, "application": None, "attempt_count": 0, "attempted": False,
        "auto_advance": True, "automatic_tax": {"enabled": False, "liability": None, "status": None}, "billing_reason": reason,
        "charge": None, "collection_method": sub["collection_method"], "confirmation_secret": None, "currency": sub["currency"],
        "custom_fields": None, "customer": sub["customer"], "customer_address": customer.get("address"),
        "customer_email": customer.get("email"), "customer_name": customer.get("name"), "customer_phone": customer.get("phone"),
        "customer_shipping": None, "customer_tax_exempt": "none", "customer_tax_ids": [], "default_payment_method": None,
        "default_source": None, "default_tax_rates": [], "description": None, "discounts": [],
        "due_date": ctx.now + (sub["days_until_due"] or 0) * DAY if sub["collection_method"] == "send_invoice" else None,
        "effective_at": None, "ending_balance": None, "footer": None, "from_invoice": None,
        "hosted_invoice_url": f"{ctx.emu.public_url}/invoices/{id_}", "invoice_pdf": None, "issuer": {"type": "self"},
        "last_finalization_error": None, "latest_revision": None, "lines": list_of(lines, f"/v1/invoices/{id_}/lines"),
        "metadata": {}, "next_payment_attempt": None, "number": None, "on_behalf_of": None, "paid": False, "paid_out_of_band": False,
        "parent": {"quote_details": None, "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
                   "type": "subscription_details"},
        "payment_intent": None, "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": end, "period_start": start, "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "receipt_number": None, "rendering": None, "shipping_cost": None, "shipping_details": None, "starting_balance": 0,
        "statement_descriptor": None, "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None},
        "subscription": sub["id"], "subtotal": total, "subtotal_excluding_tax": total, "test_clock": None, "total": total,
        "total_discount_amounts": [], "total_excluding_tax": total, "total_pretax_credit_amounts": [], "total_taxes": [],
        "webhooks_delivered_at": ctx.now,
    }, id_)
    ctx.put(invoice)
    ctx.emit("invoice.created", invoice)
    before = copy.deepcopy(invoice)
    customer_seq = customer.get("next_invoice_sequence", 1)
    invoice.update(status="open", number=f"{customer.get('invoice_prefix', 'DEVSTACK')}-{customer_seq:04d}", effective_at=ctx.now)
    invoice["status_transitions"]["finalized_at"] = ctx.now
    if customer:
        customer["next_invoice_sequence"] = customer_seq + 1
        ctx.put(customer)
    ctx.put(invoice)
    ctx.emit("invoice.finalized", invoice, before)
    sub_now = ctx.get("subscription", sub["id"])
    sub_now["latest_invoice"] = id_
    ctx.put(sub_now)
    if total == 0:
        return mark_paid(ctx, invoice, None)
    if sub["collection_method"] == "send_invoice":
        return invoice
    payer = default_method(ctx, sub)
    pi = payments.create_payment_intent(ctx.sub({
        "amount": total, "currency": sub["currency"], "customer": sub["customer"], "setup_future_usage": "off_session",
        "description": "Subscription creation" if first else "Subscription update",
        **({"payment_method": payer["id"]} if payer else {})}), invoice=id_)
    invoice = ctx.get("invoice", id_)
    invoice["payment_intent"] = pi["id"]
    invoice["confirmation_secret"] = {"client_secret": pi["client_secret"], "type": "payment_intent"}
    ctx.put(invoice)
    if first and sub.get("_payment_behavior") == "default_incomplete":
        return invoice
    if payer is None:
        invoice_payment_failed(ctx, pi)
        return ctx.get("invoice", id_)
    try:
        pi = payments.confirm(ctx, pi, Params({"off_session": "false" if first else "true"}))
    except StripeError as exc:
        if exc.status != 402:
            raise
    else:
        if pi["status"] == "requires_action":  # the customer must come back and authenticate
            ctx.emit("invoice.payment_action_required", ctx.get("invoice", id_))
    return ctx.get("invoice", id_)


def mark_paid(ctx: Ctx, invoice: dict, pi: dict | None) -> dict:
    before = copy.deepcopy(invoice)
    invoice.update(status="paid", paid=True, amount_paid=invoice["amount_due"], amount_remaining=0, next_payment_attempt=None,
                   attempted=True, attempt_count=invoice["attempt_count"] + (1 if pi else 0), charge=pi and pi["latest_charge"])
    invoice["status_transitions"]["paid_at"] = ctx.now
    ctx.put(invoice)
    ctx.emit("invoice.paid", invoice, before)
    ctx.emit("invoice.payment_succeeded", invoice, before)
    sub = ctx.store.get(invoice.get("subscription") or "", "subscription")
    if sub and sub["status"] in ("incomplete", "past_due", "unpaid"):
        sub_before = copy.deepcopy(sub)
        sub["status"] = "trialing" if sub["trial_end"] and sub["trial_end"] > ctx.now else "active"
        ctx.put(sub)
        ctx.emit("customer.subscription.updated", sub, sub_before)
    return invoice


def invoice_paid(ctx: Ctx, pi: dict) -> None:
    """Hook: a payment intent of an invoice succeeded (at once, or later through Stripe.js or a retry)."""
    invoice = ctx.store.get(pi["invoice"], "invoice")
    if invoice and invoice["status"] == "open":
        mark_paid(ctx, invoice, pi)


def invoice_payment_failed(ctx: Ctx, pi: dict) -> None:
    """Hook: an invoice's payment failed; schedule a retry and put a renewing subscription past due."""
    invoice = ctx.store.get(pi["invoice"], "invoice")
    if not invoice or invoice["status"] != "open":
        return
    before = copy.deepcopy(invoice)
    invoice["attempt_count"] += 1
    invoice["attempted"] = True
    retries = RETRY_DAYS if invoice["billing_reason"] != "subscription_create" else ()
    n = invoice["attempt_count"]
    invoice["next_payment_attempt"] = ctx.now + retries[n - 1] * DAY if n <= len(retries) else None
    ctx.put(invoice)
    ctx.emit("invoice.payment_failed", invoice, before)
    error = (pi.get("last_payment_error") or {}).get("code")
    if pi["status"] == "requires_action" or error == "authentication_required":
        ctx.emit("invoice.payment_action_required", invoice)
    sub = ctx.store.get(invoice.get("subscription") or "", "subscription")
    if not sub:
        return
    if invoice["next_payment_attempt"] is None and invoice["billing_reason"] != "subscription_create":
        cancel_now(ctx, sub, "payment_failed")
    elif sub["status"] in ("active", "trialing"):
        sub_before = copy.deepcopy(sub)
        sub["status"] = "past_due"
        ctx.put(sub)
        ctx.emit("customer.subscription.updated", sub, sub_before)


def start_period(ctx: Ctx, sub: dict, start: int, before: dict | None = None) -> None:
    """A new billing period from `start` (a renewal or a trial's end): move the period, bill it."""
    before = before or copy.deepcopy(sub)
    price = sub["items"]["data"][0]["price"]["recurring"]
    sub["current_period_start"] = start
    sub["current_period_end"] = add_interval(start, price["interval"], price["interval_count"])
    if sub["status"] == "trialing":
        sub.update(status="active" if default_method(ctx, sub) else "past_due", trial_end=min(sub["trial_end"] or start, start))
    refresh_legacy(sub)
    ctx.put(sub)
    ctx.emit("customer.subscription.updated", sub, before)
    bill(ctx, sub, "subscription_cycle", period_lines(ctx, sub))


def retry(ctx: Ctx, invoice: dict, payment_method: str | None = None) -> dict:
    """Another attempt at an open invoice (a scheduled retry, or POST /v1/invoices/{id}/pay)."""
    pi = ctx.get("payment_intent", invoice["payment_intent"]) if invoice.get("payment_intent") else None
    sub = ctx.store.get(invoice.get("subscription") or "", "subscription") or {"customer": invoice["customer"]}
    payer = ctx.store.get(payment_method, "payment_method") if payment_method else default_method(ctx, sub)
    if pi is None or payer is None:
        if pi is not None:
            invoice_payment_failed(ctx, pi)
        return ctx.get("invoice", invoice["id"])
    try:
        payments.confirm(ctx, pi, Params({"payment_method": payer["id"], "off_session": "true"}))
    except StripeError as exc:
        if exc.status != 402:
            raise
    return ctx.get("invoice", invoice["id"])


def pay_route(ctx: Ctx, id: str) -> dict:
    invoice = ctx.get("invoice", id, kind="invoice")
    if invoice["status"] != "open":
        raise errors.invalid(f"Invoice is already {invoice['status']}", code="invoice_not_open")
    if ctx.params.bool("paid_out_of_band", False):
        invoice["paid_out_of_band"] = True
        return mark_paid(ctx, invoice, None)
    pm = ctx.params.str("payment_method")
    if pm:
        pm = resolve_owned(ctx, pm, invoice["customer"], "payment_method")["id"]
    invoice = retry(ctx, invoice, pm)
    if invoice["status"] != "paid":
        pi = ctx.get("payment_intent", invoice["payment_intent"])
        failure = pi.get("last_payment_error") or {}
        raise StripeError(402, "card_error", failure.get("message") or "Your card was declined.", code=failure.get("code"),
                          decline_code=failure.get("decline_code"), payment_intent=pi)
    return invoice


def void_route(ctx: Ctx, id: str) -> dict:
    invoice = ctx.get("invoice", id, kind="invoice")
    if invoice["status"] != "open":
        raise errors.invalid(f"You can only void open invoices; this one is {invoice['status']}.", code="invoice_not_open")
    before = copy.deepcopy(invoice)
    invoice.update(status="void", next_payment_attempt=None, amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = ctx.now
    ctx.put(invoice)
    ctx.emit("invoice.voided", invoice, before)
    return invoice


def preview(ctx: Ctx) -> dict:
    """The next invoice of a subscription (create_preview / the legacy upcoming)."""
    p = ctx.params
    sub_id = p.str("subscription")
    if not sub_id:
        raise errors.missing_param("subscription")
    sub = ctx.get("subscription", sub_id, "subscription", kind="subscription")
    nxt = copy.deepcopy(sub)
    nxt["current_period_start"] = sub["current_period_end"]
    price = sub["items"]["data"][0]["price"]["recurring"]
    nxt["current_period_end"] = add_interval(sub["current_period_end"], price["interval"], price["interval_count"])
    lines = period_lines(ctx, nxt)
    total = sum(line["amount"] for line in lines)
    return {"id": None, "object": "invoice", "amount_due": total, "amount_paid": 0, "amount_remaining": total, "billing_reason": "upcoming",
            "created": ctx.now, "currency": sub["currency"], "customer": sub["customer"], "lines": list_of(lines, "/v1/invoices/upcoming/lines"),
            "livemode": False, "next_payment_attempt": sub["current_period_end"], "period_start": nxt["current_period_start"],
            "period_end": nxt["current_period_end"], "status": "draft", "subscription": sub["id"], "subtotal": total, "total": total}


def list_invoices(ctx: Ctx) -> dict:
    return page(ctx, equal_filter(ctx.params, ctx.store.all("invoice"), "customer", "subscription", "status", "collection_method"),
                "/v1/invoices")


def invoice_lines(ctx: Ctx, id: str) -> dict:
    invoice = ctx.get("invoice", id, kind="invoice")
    return page(ctx, invoice["lines"]["data"], f"/v1/invoices/{id}/lines")


# payments tells billing how an invoice's payment intent went (payments never imports billing).
payments.invoice_hooks.update(paid=invoice_paid, failed=invoice_payment_failed)

ROUTES = [
    Route("DELETE", "/v1/customers/{id}", delete_customer),
    Route("POST", "/v1/subscriptions", create_subscription),
    Route("GET", "/v1/subscriptions", list_subscriptions),
    Route("GET", "/v1/subscriptions/search", lambda ctx: search(ctx, ctx.store.all("subscription"), "/v1/subscriptions/search")),
    Route("GET", "/v1/subscriptions/{id}", lambda ctx, id: ctx.get("subscription", id, kind="subscription")),
    Route("POST", "/v1/subscriptions/{id}", update_subscription),
    Route("DELETE", "/v1/subscriptions/{id}", cancel_route),
    Route("GET", "/v1/subscription_items", list_items),
    Route("GET", "/v1/subscription_items/{id}", lambda ctx, id: find_item(ctx, id)[1]),
    Route("POST", "/v1/subscription_items/{id}", update_item),
    Route("GET", "/v1/invoices", list_invoices),
    Route("GET", "/v1/invoices/search", lambda ctx: search(ctx, ctx.store.all("invoice"), "/v1/invoices/search")),
    Route("GET", "/v1/invoices/upcoming", preview),
    Route("POST", "/v1/invoices/create_preview", preview),
    Route("GET", "/v1/invoices/{id}", lambda ctx, id: ctx.get("invoice", id, kind="invoice")),
    Route("GET", "/v1/invoices/{id}/lines", invoice_lines),
    Route("POST", "/v1/invoices/{id}/pay", pay_route),
    Route("POST", "/v1/invoices/{id}/void", void_route),
]
