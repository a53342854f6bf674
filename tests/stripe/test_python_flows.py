"""The seed apps' billing flows, end to end with stripe-python against `devstack up`'s emulator.

The hosted pages are driven as a browser would submit them (HTML forms over HTTP);
tests/stripe/test_browser.py does the same in real chromium.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import stripe

PRO = "price_railgun_pro_monthly"  # from fixtures/railgun/seed/stripe.yaml


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def submit(url: str, fields: dict) -> tuple[int, str, str]:
    """POST a page's form; (status, Location, body) without following the redirect."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST"), timeout=30) as r:
            return r.status, r.headers.get("Location", ""), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode()


def pay_on_page(url: str, card: str, email: str = "hana.nowak@railgun.dev"):
    return submit(url, {"email": email, "cardNumber": card, "cardExpiry": "12 / 34", "cardCvc": "123", "billingName": "Hana Nowak"})


def test_railgun_pro_via_checkout_then_failed_renewal_then_portal_cancel(stripe_stack, receiver):
    client = stripe_stack.client()
    hana = client.v1.customers.list(params={"email": "hana.nowak@railgun.dev"}).data[0]  # seeded
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": hana.id, "client_reference_id": "1",
        "line_items": [{"price": PRO, "quantity": 1}], "metadata": {"railgun_user_id": "1"},
        "success_url": f"{receiver.base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}", "cancel_url": f"{receiver.base}/billing"})
    assert session.url.startswith(stripe_stack.api_base + "/c/pay/cs_test_") and session.amount_total == 499

    # A declined card: the page says so, nothing is created, the session stays open.
    status, _, page = pay_on_page(session.url, "4000 0000 0000 0002")
    assert status == 402 and "Your card was declined." in page
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    status, location, _ = pay_on_page(session.url, "4242 4242 4242 4242")
    assert status == 303 and location == f"{receiver.base}/billing/success?session_id={session.id}"

    completed = receiver.wait("checkout.session.completed")["data"]["object"]
    assert completed["id"] == session.id and completed["client_reference_id"] == "1" and completed["payment_status"] == "paid"
    sub_id = completed["subscription"]
    created = receiver.wait("customer.subscription.created", lambda s: s["id"] == sub_id)["data"]["object"]
    assert created["status"] == "active" and created["items"]["data"][0]["price"]["id"] == PRO
    paid = receiver.wait("invoice.paid", lambda i: i["subscription"] == sub_id)["data"]["object"]
    assert paid["amount_paid"] == 499 and paid["billing_reason"] == "subscription_create"
    receiver.wait("invoice.payment_succeeded", lambda i: i["subscription"] == sub_id)
    receiver.wait("payment_intent.succeeded", lambda pi: pi["amount"] == 499 and pi["customer"] == hana.id)

    sub = client.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice.payment_intent", "customer"]})
    assert sub.status == "active" and sub.customer.email == "hana.nowak@railgun.dev"
    assert sub.latest_invoice.payment_intent.status == "succeeded"

    # The customer switches to a card that attaches but is declined on charge, through the portal.
    portal = client.v1.billing_portal.sessions.create(params={"customer": hana.id, "return_url": f"{receiver.base}/settings"})
    status, _, page = submit(portal.url, {"action": "update_card", "cardNumber": "4000000000000341", "cardExpiry": "1234", "cardCvc": "1"})
    assert status == 200 and "•••• 0341" in page
    assert client.v1.subscriptions.retrieve(sub_id).default_payment_method != sub.default_payment_method

    # A month later the renewal fails: invoice.payment_failed, the subscription is past due.
    out = stripe_stack.cli("advance", "31d")
    assert "invoice.payment_failed" in out.stdout, out.stdout
    failed = receiver.wait("invoice.payment_failed", lambda i: i["subscription"] == sub_id)["data"]["object"]
    assert failed["billing_reason"] == "subscription_cycle" and failed["attempt_count"] == 1 and failed["next_payment_attempt"]
    updated = receiver.wait("customer.subscription.updated", lambda s: s["id"] == sub_id and s["status"] == "past_due")
    assert updated["data"]["previous_attributes"]["status"] == "active"
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"

    # Cancel in the portal: at the period's end (the portal's default), then the period ends.
    status, _, page = submit(portal.url, {"action": "cancel", "subscription": sub_id})
    assert status == 200 and "Renew plan" in page
    receiver.wait("customer.subscription.updated", lambda s: s["id"] == sub_id and s["cancel_at_period_end"])
    stripe_stack.cli("advance", "31d")
    deleted = receiver.wait("customer.subscription.deleted", lambda s: s["id"] == sub_id)["data"]["object"]
    assert deleted["status"] == "canceled" and deleted["ended_at"]


def test_drone_school_payment_intent_confirmation(stripe_stack, receiver):
    client = stripe_stack.client()
    student = client.v1.customers.create(params={"email": "pilot@droneschool.test", "metadata": {"user_id": "7"}})
    intent = client.v1.payment_intents.create(params={
        "amount": 24900, "currency": "usd", "customer": student.id, "metadata": {"enrollment_id": "42"},
        "automatic_payment_methods": {"enabled": True}})
    assert intent.status == "requires_payment_method" and intent.client_secret.startswith(intent.id + "_secret_")
    confirmed = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded" and confirmed.amount_received == 24900
    event = receiver.wait("payment_intent.succeeded", lambda pi: pi["id"] == intent.id)
    assert event["data"]["object"]["metadata"] == {"enrollment_id": "42"} and event["request"]["id"].startswith("req_")
    charge = client.v1.charges.retrieve(confirmed.latest_charge)
    assert charge.paid and charge.payment_method_details.card.last4 == "4242"

    # Insufficient funds: a CardError with Stripe's fields, and payment_intent.payment_failed.
    other = client.v1.payment_intents.create(params={"amount": 24900, "currency": "usd", "customer": student.id})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.confirm(other.id, params={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"})
    assert declined.value.code == "card_declined" and declined.value.error.decline_code == "insufficient_funds"
    assert declined.value.http_status == 402 and declined.value.error.payment_intent.id == other.id
    receiver.wait("payment_intent.payment_failed", lambda pi: pi["id"] == other.id)

    # A card that asks for authentication: requires_action, then the bank's page completes it.
    auth = client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd", "payment_method": "pm_card_authenticationRequired",
                                                    "confirm": True, "return_url": f"{receiver.base}/payments/done"})
    assert auth.status == "requires_action" and auth.next_action.type == "redirect_to_url"
    status, location, _ = submit(auth.next_action.redirect_to_url.url, {
        "action": "complete", "client_secret": auth.client_secret, "return_url": f"{receiver.base}/payments/done"})
    assert status == 303 and "redirect_status=succeeded" in location and f"payment_intent={auth.id}" in location
    assert client.v1.payment_intents.retrieve(auth.id).status == "succeeded"

    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4900})
    assert refund.status == "succeeded"
    refunded = receiver.wait("charge.refunded", lambda c: c["payment_intent"] == intent.id)
    assert refunded["data"]["object"]["amount_refunded"] == 4900 and not refunded["data"]["object"]["refunded"]


def test_one_cent_checkout_completed_from_the_cli(stripe_stack, receiver):
    client = stripe_stack.client()
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "customer_email": "tipper@example.com",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 1, "product_data": {"name": "Tip jar"}}, "quantity": 1}],
        "success_url": "https://app.example/thanks?cs={CHECKOUT_SESSION_ID}", "payment_intent_data": {"metadata": {"tip": "yes"}}})
    assert session.amount_total == 1 and session.payment_intent is None
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.amount_total) for i in items.data] == [("Tip jar", 1)]
    out = stripe_stack.cli("checkout", "complete", session.id)
    assert out.stdout.strip() == f"https://app.example/thanks?cs={session.id}"
    intent_event = receiver.wait("payment_intent.succeeded", lambda pi: pi["amount"] == 1)
    assert intent_event["data"]["object"]["metadata"] == {"tip": "yes"}
    done = receiver.wait("checkout.session.completed", lambda s: s["id"] == session.id)["data"]["object"]
    assert done["payment_status"] == "paid" and done["payment_intent"] == intent_event["data"]["object"]["id"]
    assert done["customer_details"]["email"] == "tipper@example.com" and done["url"] is None


def test_keys_errors_idempotency_pagination(stripe_stack, receiver):
    base = stripe_stack.api_base
    for key, message in (("sk_test_" + "x" * 24, "Invalid API Key provided: sk_test_"), (None, "You did not provide an API key")):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(f"{base}/v1/customers", headers=headers), timeout=10)
        body = json.loads(refused.value.read())
        assert refused.value.code == 401 and body["error"]["type"] == "invalid_request_error" and message in body["error"]["message"]
        assert "x" * 20 not in body["error"]["message"]  # the key is masked
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_test_wrong_key", base_addresses={"api": base}).v1.customers.list()
    with pytest.raises(stripe.AuthenticationError, match="publishable API key"):
        stripe.StripeClient(stripe_stack.publishable_key, base_addresses={"api": base}).v1.customers.list()

    client = stripe_stack.client()
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing" and missing.value.param == "id"
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.payment_intents.create(params={"currency": "usd"})
    assert bad.value.code == "parameter_missing" and bad.value.param == "amount"

    first = client.v1.customers.create(params={"email": "once@example.com"}, options={"idempotency_key": "signup-1"})
    again = client.v1.customers.create(params={"email": "once@example.com"}, options={"idempotency_key": "signup-1"})
    assert again.id == first.id and len(client.v1.customers.list(params={"email": "once@example.com"}).data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"email": "other@example.com"}, options={"idempotency_key": "signup-1"})

    prices = client.v1.prices.list(params={"limit": 1, "product": "prod_railgun_pro"})
    assert prices.has_more and len(prices.data) == 1
    rest = client.v1.prices.list(params={"limit": 10, "product": "prod_railgun_pro", "starting_after": prices.data[0].id})
    assert {p.id for p in prices.data + rest.data} == {"price_railgun_pro_monthly", "price_railgun_pro_yearly"} and not rest.has_more
    found = client.v1.prices.list(params={"lookup_keys": ["railgun_pro_yearly"], "expand": ["data.product"]})
    assert found.data[0].product.name == "Rail Gun Pro"
    assert re.fullmatch(r"cus_[A-Za-z0-9]{14,}", first.id)
    receiver.wait("customer.created", lambda c: c["id"] == first.id)


def test_subscription_trial_update_and_frontend_confirmation(stripe_stack, receiver):
    client = stripe_stack.client()
    customer = client.v1.customers.create(params={"email": "team@example.com", "payment_method": "pm_card_visa",
                                                  "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    yearly = "price_railgun_pro_yearly"
    trial = client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": PRO, "quantity": 2}], "trial_period_days": 7,
                                                   "expand": ["latest_invoice"]})
    assert trial.status == "trialing" and trial.latest_invoice.amount_due == 0 and trial.latest_invoice.status == "paid"
    assert trial.trial_end - trial.trial_start == 7 * 86400 and trial.items.data[0].current_period_end == trial.trial_end

    # A quantity change and a price change on the item: one update event with the old items.
    item = trial.items.data[0]
    changed = client.v1.subscriptions.update(trial.id, params={"items": [{"id": item.id, "quantity": 3}], "metadata": {"seats": "3"}})
    assert changed.items.data[0].quantity == 3 and changed.quantity == 3
    event = receiver.wait("customer.subscription.updated", lambda s: s["id"] == trial.id and s["metadata"] == {"seats": "3"})
    assert event["data"]["previous_attributes"]["items"]["data"][0]["quantity"] == 2
    client.v1.subscriptions.update(trial.id, params={"items": [{"id": item.id, "price": yearly}]})

    stripe_stack.cli("advance", "8d")
    receiver.wait("customer.subscription.trial_will_end", lambda s: s["id"] == trial.id)
    renewed = receiver.wait("invoice.paid", lambda i: i["subscription"] == trial.id and i["amount_paid"] > 0)["data"]["object"]
    assert renewed["amount_paid"] == 4990 * 3 and renewed["lines"]["data"][0]["price"]["id"] == yearly
    assert client.v1.subscriptions.retrieve(trial.id).status == "active"

    # default_incomplete: the frontend confirms the first invoice's payment with the publishable key, as Stripe.js does.
    newcomer = client.v1.customers.create(params={"email": "newcomer@example.com"})  # no card yet: the frontend brings it
    pending = client.v1.subscriptions.create(params={"customer": newcomer.id, "items": [{"price": PRO}], "payment_behavior": "default_incomplete",
                                                     "expand": ["latest_invoice.payment_intent"]})
    assert pending.status == "incomplete" and pending.latest_invoice.payment_intent.status == "requires_payment_method"
    secret = pending.latest_invoice.confirmation_secret.client_secret
    assert secret == pending.latest_invoice.payment_intent.client_secret
    pi_id = pending.latest_invoice.payment_intent.id
    form = urllib.parse.urlencode({"key": stripe_stack.publishable_key, "client_secret": secret, "payment_method": "pm_card_visa"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{stripe_stack.api_base}/v1/payment_intents/{pi_id}/confirm", data=form), timeout=10) as r:
        assert json.loads(r.read())["status"] == "succeeded"
    bad = urllib.parse.urlencode({"key": stripe_stack.publishable_key, "client_secret": "pi_x_secret_wrong"}).encode()
    with pytest.raises(urllib.error.HTTPError) as hidden:
        urllib.request.urlopen(urllib.request.Request(f"{stripe_stack.api_base}/v1/payment_intents/{pi_id}?{bad.decode()}"), timeout=10)
    assert hidden.value.code == 404
    active = receiver.wait("customer.subscription.updated", lambda s: s["id"] == pending.id and s["status"] == "active")
    assert active["data"]["previous_attributes"]["status"] == "incomplete"
    assert client.v1.invoices.retrieve(pending.latest_invoice.id).status == "paid"
    client.v1.subscriptions.cancel(pending.id)
    receiver.wait("customer.subscription.deleted", lambda s: s["id"] == pending.id)
