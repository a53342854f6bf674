"""Work the clock brings due: renewals, trial ends, payment retries, cancellations at period end, expiries.

Each piece runs in its own transaction at its own moment (objects and events
carry that time), earliest first, so advancing 90 days renews a monthly plan
three times in order.
"""
from __future__ import annotations

import copy

from devstack.stubs.stripe import billing, checkout
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx

DAY = 86400
TRIAL_WILL_END = 3 * DAY  # customer.subscription.trial_will_end comes three days before
MAX_STEPS = 10_000  # a runaway guard: ~800 years of monthly renewals


def due(store, now: int) -> list[tuple[int, str, str]]:
    """[(moment, what, object id)] of everything due at or before now."""
    work = []
    for sub in store.all("subscription"):
        status = sub["status"]
        if status == "trialing" and sub["trial_end"]:
            if not sub.get("_trial_will_end_sent") and sub["trial_end"] - TRIAL_WILL_END <= now:
                work.append((max(sub["trial_end"] - TRIAL_WILL_END, sub["created"]), "trial_will_end", sub["id"]))
            if sub["trial_end"] <= now:
                work.append((sub["trial_end"], "period_end", sub["id"]))
        elif status in ("active", "past_due", "unpaid") and sub["current_period_end"] <= now:
            work.append((sub["current_period_end"], "period_end", sub["id"]))
        if status in billing.LIVE and status != "incomplete" and sub.get("cancel_at") and sub["cancel_at"] <= now \
                and sub["cancel_at"] < sub["current_period_end"]:
            work.append((sub["cancel_at"], "cancel_at", sub["id"]))
        if status == "incomplete" and sub["created"] + billing.INCOMPLETE_EXPIRES <= now:
            work.append((sub["created"] + billing.INCOMPLETE_EXPIRES, "incomplete_expired", sub["id"]))
    for invoice in store.all("invoice"):
        if invoice["status"] == "open" and invoice.get("next_payment_attempt") and invoice["next_payment_attempt"] <= now:
            work.append((invoice["next_payment_attempt"], "retry", invoice["id"]))
    for session in store.all("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= now:
            work.append((session["expires_at"], "expire", session["id"]))
    return sorted(work)


def run_due(emu, now: int) -> list[dict]:
    """Do everything due up to `now`; returns the events made (the caller wakes the deliverer)."""
    made: list[dict] = []
    for _ in range(MAX_STEPS):
        work = due(emu.store, now)
        if not work:
            break
        moment, what, id_ = work[0]
        ctx = Ctx(emu, Params({}), moment, auth="system")
        with emu.store.transaction():
            STEPS[what](ctx, id_)
        made += ctx.events
    return made


def _trial_will_end(ctx: Ctx, id_: str) -> None:
    sub = ctx.get("subscription", id_)
    sub["_trial_will_end_sent"] = True
    ctx.put(sub)
    ctx.emit("customer.subscription.trial_will_end", sub)


def _period_end(ctx: Ctx, id_: str) -> None:
    sub = ctx.get("subscription", id_)
    end = sub["trial_end"] if sub["status"] == "trialing" else sub["current_period_end"]
    if sub["cancel_at_period_end"] or (sub.get("cancel_at") and sub["cancel_at"] <= end):
        billing.cancel_now(ctx, sub, "cancellation_requested")
        return
    billing.start_period(ctx, sub, end)


def _cancel_at(ctx: Ctx, id_: str) -> None:
    billing.cancel_now(ctx, ctx.get("subscription", id_), "cancellation_requested")


def _incomplete_expired(ctx: Ctx, id_: str) -> None:
    """The first invoice went unpaid for 23 hours: voided, and the subscription ends for good."""
    for invoice in ctx.store.find("invoice", subscription=id_, status="open"):
        billing.void_route(ctx, invoice["id"])
    sub = ctx.get("subscription", id_)
    before = copy.deepcopy(sub)
    sub.update(status="incomplete_expired", ended_at=ctx.now)
    ctx.put(sub)
    ctx.emit("customer.subscription.deleted", sub, before)


def _retry(ctx: Ctx, id_: str) -> None:
    billing.retry(ctx, ctx.get("invoice", id_))


def _expire(ctx: Ctx, id_: str) -> None:
    checkout.expire(ctx, ctx.get("checkout.session", id_))


STEPS = {"trial_will_end": _trial_will_end, "period_end": _period_end, "cancel_at": _cancel_at,
         "incomplete_expired": _incomplete_expired, "retry": _retry, "expire": _expire}
