"""`devstack stripe trigger EVENT`: create the objects that make an event happen, as Stripe CLI's fixtures do.

Each scenario builds its objects through the same code as the API, so the
event is real (signed, stored, retried) and consistent with what it names.
`--override resource:path=value` changes a parameter of one of the objects
made (`payment_intent:amount=2000`, `customer:metadata.user_id=7`); without
`resource:` it applies to the scenario's main object.
"""
from __future__ import annotations

from devstack.stubs.stripe import billing, catalog, checkout, customers, errors, payments, portal
from devstack.stubs.stripe.errors import StripeError
from devstack.stubs.stripe.objects import Ctx


def apply_overrides(overrides: list[str], main: str) -> dict[str, dict]:
    """['payment_intent:amount=2000', 'metadata.k=v'] -> {'payment_intent': {'amount': '2000'}, main: {'metadata': {'k': 'v'}}}."""
    out: dict[str, dict] = {}
    for item in overrides:
        target, sep, value = item.partition("=")
        if not sep or not target:
            raise errors.invalid(f"Invalid override {item!r}: use [resource:]path=value, e.g. payment_intent:amount=2000", "override")
        resource, colon, path = target.partition(":")
        if not colon:
            resource, path = main, target
        keys = [k for k in path.replace("[", ".").replace("]", "").split(".") if k]
        node = out.setdefault(resource, {})
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return out


def merged(base: dict, extra: dict | None) -> dict:
    out = dict(base)
    for key, value in (extra or {}).items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class Scenario:
    def __init__(self, ctx: Ctx, overrides: dict[str, dict]):
        self.ctx, self.overrides, self.made = ctx, overrides, {}

    def params(self, resource: str, base: dict) -> Ctx:
        return self.ctx.sub(merged(base, self.overrides.get(resource)))

    def customer(self, **extra) -> dict:
        c = customers.create_customer(self.params("customer", {"email": "trigger@example.com", "name": "Trigger Customer", **extra}))
        self.made["customer"] = c["id"]
        return c

    def product_price(self, recurring: bool) -> dict:
        product = catalog.create_product(self.params("product", {"name": "myproduct", "description": "(created by devstack stripe trigger)"}))
        base = {"unit_amount": "1500", "currency": "usd", **({"recurring": {"interval": "month"}} if recurring else {})}
        call = self.params("price", base)
        price = catalog.make_price(call, call.params, product["id"])
        self.made.update(product=product["id"], price=price["id"])
        return price

    def payment_intent(self, card: str = "pm_card_visa", **extra) -> dict:
        base = {"amount": "2000", "currency": "usd", "payment_method": card, "confirm": "true", "description": "(created by devstack stripe trigger)", **extra}
        try:
            pi = payments.create_payment_intent(self.params("payment_intent", base))
        except StripeError as exc:
            if exc.status != 402:
                raise
            pi = exc.extra["payment_intent"]
        self.made["payment_intent"] = pi["id"]
        return pi

    def subscription(self, card: str = "pm_card_visa", **extra) -> dict:
        customer = self.customer(payment_method=card, invoice_settings={"default_payment_method": card})
        price = self.product_price(True)
        sub = billing.create_subscription(self.params("subscription", {"customer": customer["id"], "items": [{"price": price["id"]}], **extra}))
        self.made["subscription"] = sub["id"]
        return sub

    def session(self) -> dict:
        price = self.product_price(False)
        s = checkout.create_session(self.params("checkout_session", {
            "mode": "payment", "line_items": [{"price": price["id"], "quantity": "1"}], "success_url": "https://example.com/success",
            "cancel_url": "https://example.com/cancel"}))
        self.made["checkout_session"] = s["id"]
        return s


def _pi_failed(s: Scenario) -> None:
    s.payment_intent("pm_card_chargeDeclined")


def _refund(s: Scenario) -> None:
    pi = s.payment_intent()
    refund = payments.create_refund(s.params("refund", {"payment_intent": pi["id"]}))
    s.made["refund"] = refund["id"]


def _captured(s: Scenario) -> None:
    pi = s.payment_intent(capture_method="manual")
    payments.capture(s.ctx.sub({}), pi["id"])


def _canceled(s: Scenario) -> None:
    pi = s.payment_intent(confirm="false")
    payments.cancel(s.ctx.sub({}), pi["id"])


def _session_completed(s: Scenario) -> None:
    session = s.session()
    checkout.complete(s.ctx, s.ctx.get("checkout.session", session["id"]), payment_method="pm_card_visa", email="trigger@example.com")


def _session_expired(s: Scenario) -> None:
    checkout.expire(s.ctx, s.ctx.get("checkout.session", s.session()["id"]))


def _sub_updated(s: Scenario) -> None:
    sub = s.subscription()
    billing.update_subscription(s.params("subscription_update", {"metadata": {"foo": "bar"}}), sub["id"])


def _sub_deleted(s: Scenario) -> None:
    billing.cancel_now(s.ctx, s.ctx.get("subscription", s.subscription()["id"]), "cancellation_requested")


def _trial_will_end(s: Scenario) -> None:
    s.subscription(trial_period_days="2")  # due at once: the clock work below sends it


def _setup(card: str):
    def run(s: Scenario) -> None:
        customer = s.customer()
        try:
            si = customers.create_setup_intent(s.params("setup_intent", {"customer": customer["id"], "payment_method": card, "confirm": "true"}))
            s.made["setup_intent"] = si["id"]
        except StripeError as exc:
            if exc.status != 402:
                raise
    return run


def _portal(s: Scenario) -> None:
    customer = s.customer()
    session = portal.create_session(s.params("billing_portal_session", {"customer": customer["id"], "return_url": "https://example.com/account"}))
    s.made["billing_portal_session"] = session["id"]


SCENARIOS = {
    "customer.created": ("customer", lambda s: s.customer()),
    "customer.updated": ("customer", lambda s: customers.update_customer(s.ctx.sub({"metadata": {"foo": "bar"}}), s.customer()["id"])),
    "customer.deleted": ("customer", lambda s: billing.delete_customer(s.ctx.sub({}), s.customer()["id"])),
    "product.created": ("product", lambda s: s.product_price(False)),
    "price.created": ("price", lambda s: s.product_price(False)),
    "payment_method.attached": ("customer", lambda s: s.customer(payment_method="pm_card_visa")),
    "payment_intent.created": ("payment_intent", lambda s: s.payment_intent()),
    "payment_intent.succeeded": ("payment_intent", lambda s: s.payment_intent()),
    "payment_intent.payment_failed": ("payment_intent", _pi_failed),
    "payment_intent.canceled": ("payment_intent", _canceled),
    "payment_intent.amount_capturable_updated": ("payment_intent", lambda s: s.payment_intent(capture_method="manual")),
    "charge.succeeded": ("payment_intent", lambda s: s.payment_intent()),
    "charge.failed": ("payment_intent", _pi_failed),
    "charge.captured": ("payment_intent", _captured),
    "charge.refunded": ("refund", _refund),
    "refund.created": ("refund", _refund),
    "checkout.session.completed": ("checkout_session", _session_completed),
    "checkout.session.expired": ("checkout_session", _session_expired),
    "customer.subscription.created": ("subscription", lambda s: s.subscription()),
    "customer.subscription.updated": ("subscription_update", _sub_updated),
    "customer.subscription.deleted": ("subscription", _sub_deleted),
    "customer.subscription.trial_will_end": ("subscription", _trial_will_end),
    "invoice.created": ("subscription", lambda s: s.subscription()),
    "invoice.finalized": ("subscription", lambda s: s.subscription()),
    "invoice.paid": ("subscription", lambda s: s.subscription()),
    "invoice.payment_succeeded": ("subscription", lambda s: s.subscription()),
    "invoice.payment_failed": ("subscription", lambda s: s.subscription("pm_card_chargeCustomerFail")),
    "setup_intent.created": ("setup_intent", _setup("pm_card_visa")),
    "setup_intent.succeeded": ("setup_intent", _setup("pm_card_visa")),
    "setup_intent.setup_failed": ("setup_intent", _setup("pm_card_chargeDeclined")),
    "billing_portal.session.created": ("billing_portal_session", _portal),
}


def run(emu, event: str, overrides: list[str]) -> dict:
    if event not in SCENARIOS:
        raise errors.invalid(f"devstack cannot trigger `{event}`. It can trigger: {', '.join(sorted(SCENARIOS))}.", "event")
    main, scenario = SCENARIOS[event]
    parsed = apply_overrides(overrides, main)

    def work(ctx: Ctx) -> dict:
        ctx.request = {"id": None, "idempotency_key": None}
        s = Scenario(ctx, parsed)
        scenario(s)
        return s.made

    done = emu.run(work)
    if done.error is not None:
        raise done.error
    from devstack.stubs.stripe import renewals

    later = renewals.run_due(emu, emu.clock.now())  # e.g. a trial that ends within three days
    emu.published(later)
    return {"event": event, "objects": done.result, "events": [{"id": e["id"], "type": e["type"]} for e in done.events + later]}
