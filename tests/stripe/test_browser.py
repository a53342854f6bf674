"""The hosted Checkout page and the Stripe.js stand-in in real headless chromium (Debian's, via playwright-core)."""

from __future__ import annotations

import json

from tests.stripe.conftest import run_node

APP_PAGE = """<!doctype html><html><body>
<script src="{js}"></script>
<div id="card"></div><button id="pay">Pay</button><p id="result"></p>
<script>
  const stripe = Stripe({pk});
  const card = stripe.elements().create("card");
  card.mount("#card");
  document.getElementById("pay").onclick = async () => {{
    const r = await stripe.confirmCardPayment({secret}, {{ payment_method: {{ card, billing_details: {{ name: "Jenny" }} }} }});
    document.getElementById("result").textContent = r.error ? "error: " + r.error.message : r.paymentIntent.status + " " + r.paymentIntent.id;
  }};
</script></body></html>"""


REDIRECT_PAGE = """<!doctype html><html><body>
<script src="{js}"></script><button id="go">Upgrade</button>
<script>
  document.getElementById("go").onclick = () => Stripe({pk}).redirectToCheckout({{ sessionId: {session} }});
</script></body></html>"""


def test_hosted_checkout_and_stripe_js_in_chromium(stripe_stack, receiver, node_dir, chromium):
    client = stripe_stack.client()
    success = f"{receiver.base}/billing/success"

    def session(**extra):
        return client.v1.checkout.sessions.create(params={
            "mode": "subscription", "line_items": [{"price": "price_railgun_pro_monthly", "quantity": 1}],
            "success_url": success + "?session_id={CHECKOUT_SESSION_ID}", "cancel_url": f"{receiver.base}/billing", **extra})

    plain, three_ds, redirected = session(), session(customer_email="3ds@example.com"), session()
    receiver.static["/upgrade.html"] = REDIRECT_PAGE.format(js=f"{stripe_stack.api_base}/v3/", pk=json.dumps(stripe_stack.publishable_key),
                                                            session=json.dumps(redirected.id))
    intents = [client.v1.payment_intents.create(params={"amount": 1999, "currency": "usd", "metadata": {"page": str(i)}}) for i in (1, 2)]
    for i, intent in enumerate(intents, 1):
        receiver.static[f"/pay{i}.html"] = APP_PAGE.format(js=f"{stripe_stack.api_base}/v3/", pk=json.dumps(stripe_stack.publishable_key),
                                                           secret=json.dumps(intent.client_secret))
    jobs = [
        {"kind": "checkout", "url": plain.url, "card": "4242 4242 4242 4242", "success": success},
        {"kind": "checkout", "url": three_ds.url, "card": "4000 0027 6000 3184", "success": success, "authenticate": True},
        {"kind": "redirect", "url": f"{receiver.base}/upgrade.html", "card": "5555 5555 5555 4444", "success": success},
        {"kind": "elements", "url": f"{receiver.base}/pay1.html", "card": "4242424242424242", "resultSelector": "#result"},
        {"kind": "elements", "url": f"{receiver.base}/pay2.html", "card": "4000002760003184", "resultSelector": "#result", "authenticate": True},
    ]
    results = run_node("browser.mjs", {"CHROMIUM": chromium, "JOBS": json.dumps(jobs)}, timeout=180)

    assert results[0]["url"] == f"{success}?session_id={plain.id}"
    assert results[1]["url"] == f"{success}?session_id={three_ds.id}"
    assert results[2]["url"] == f"{success}?session_id={redirected.id}"
    for s in (plain, three_ds, redirected):
        done = receiver.wait("checkout.session.completed", lambda o, s=s: o["id"] == s.id)["data"]["object"]
        assert done["status"] == "complete" and done["subscription"]
        assert client.v1.subscriptions.retrieve(done["subscription"]).status == "active"
    assert results[3]["text"] == f"succeeded {intents[0].id}" and results[4]["text"] == f"succeeded {intents[1].id}"
    for intent in intents:
        event = receiver.wait("payment_intent.succeeded", lambda o, i=intent: o["id"] == i.id)["data"]["object"]
        assert event["amount_received"] == 1999
    assert client.v1.payment_intents.retrieve(intents[1].id).latest_charge
