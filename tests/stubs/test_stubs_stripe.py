import os

import pytest
import stripe

TMP_PICKLE = "/tmp/localstripe.pickle"


@pytest.fixture
def localstripe(start_stub, tmp_path, free_port):
    port = free_port()
    state = tmp_path / "stripe"

    def start():
        return start_stub("stripe", "--port", port, "--state-dir", state,
                          ready=f"http://127.0.0.1:{port}/v1/customers",
                          ready_headers={"Authorization": "Bearer sk_test_ready"})
    stub = start()
    stub.base, stub.state, stub.restart = f"http://127.0.0.1:{port}", state, start
    return stub


def _stat(path):
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def test_stripe_python_customer_price_payment_intent(localstripe):
    tmp_before = _stat(TMP_PICKLE)
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": localstripe.base})

    customer = client.v1.customers.create(params={"email": "ann@example.com", "name": "Ann"})
    assert customer.id.startswith("cus_") and customer.email == "ann@example.com"
    product = client.v1.products.create(params={"name": "Pro plan"})
    price = client.v1.prices.create(params={"product": product.id, "unit_amount": 1500,
                                            "currency": "usd",
                                            "recurring": {"interval": "month"}})
    assert price.id.startswith("price_") and price.type == "recurring"
    assert price.unit_amount == 1500 and price.recurring.interval == "month"
    assert [p.id for p in client.v1.prices.list(params={"product": product.id}).data] == [price.id]
    assert client.v1.prices.update(price.id, params={"active": False}).active is False

    intent = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "usd", "customer": customer.id,
        "automatic_payment_methods": {"enabled": True}, "description": "order #1"})
    assert intent.status == "requires_payment_method" and intent.client_secret
    assert intent.description == "order #1"
    paid = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "usd", "customer": customer.id,
        "payment_method": "pm_card_visa", "confirm": True})
    assert paid.status == "succeeded"

    # module-level style (stripe.api_base) still used by many apps
    stripe.api_key, stripe.api_base = "sk_test_x", localstripe.base
    try:
        assert stripe.Customer.retrieve(customer.id).name == "Ann"
        assert stripe.PaymentIntent.retrieve(paid.id).status == "succeeded"
    finally:
        stripe.api_key, stripe.api_base = None, "https://api.stripe.com"

    # store lives in the state dir, not the machine-wide /tmp pickle, and survives restart
    assert (localstripe.state / "localstripe.pickle").exists()
    assert _stat(TMP_PICKLE) == tmp_before
    code, elapsed = localstripe.stop()
    assert code == 0 and elapsed < 1.0
    localstripe.restart()
    assert client.v1.customers.retrieve(customer.id).email == "ann@example.com"
    assert client.v1.prices.retrieve(price.id).unit_amount == 1500


def test_requires_secret_key(localstripe):
    client = stripe.StripeClient("pk_test_public", base_addresses={"api": localstripe.base})
    with pytest.raises(stripe.AuthenticationError):
        client.v1.customers.list()
