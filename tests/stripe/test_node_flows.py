"""The same seed-app flows with stripe-node (npm `stripe`, node 20+), verifying deliveries with constructEvent."""

from __future__ import annotations

from tests.stripe.conftest import run_node


def test_stripe_node_railgun_droneschool_and_one_cent(stripe_stack, receiver, node_dir):
    result = run_node("flows.mjs", {"STRIPE_API_BASE": stripe_stack.api_base, "STRIPE_SECRET_KEY": stripe_stack.secret_key})
    assert result["steps"] == ["railgun checkout", "railgun failed renewal", "railgun portal cancel", "drone school payment intent",
                               "one cent checkout", "wrong key"]
    assert not result["bad"] and result["refusedWrongSecret"] == result["verified"] > 10
    for wanted in ("checkout.session.completed", "customer.subscription.created", "invoice.paid", "invoice.payment_succeeded",
                   "payment_intent.succeeded", "invoice.payment_failed", "customer.subscription.deleted", "payment_intent.payment_failed"):
        assert wanted in result["events"], wanted
    # The manifest's endpoint got the same events, signed with the project's secret.
    receiver.wait("customer.subscription.deleted")
