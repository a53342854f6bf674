"""The Stripe emulator as a bare process: its key, its state dir, restart, SIGTERM."""
import stripe

KEY = "sk_test_stub"


def start(start_stub, port, state):
    return start_stub("stripe", "--port", port, "--state-dir", state, env={"DEVSTACK_STRIPE_SECRET_KEY": KEY},
                      ready=f"http://127.0.0.1:{port}/v1/customers", ready_headers={"Authorization": f"Bearer {KEY}"})


def test_stripe_python_against_the_bare_emulator_and_its_restart(start_stub, tmp_path, free_port):
    port, state = free_port(), tmp_path / "stripe"
    stub = start(start_stub, port, state)
    client = stripe.StripeClient(KEY, base_addresses={"api": f"http://127.0.0.1:{port}"})
    customer = client.v1.customers.create(params={"email": "ann@example.com", "name": "Ann"})
    price = client.v1.prices.create(params={"product_data": {"name": "Pro"}, "unit_amount": 1500, "currency": "usd",
                                            "recurring": {"interval": "month"}})
    assert price.type == "recurring" and client.v1.prices.update(price.id, params={"active": False}).active is False
    assert (state / "stripe.sqlite3").exists() and oct((state.stat().st_mode) & 0o777) == "0o700"
    code, elapsed = stub.stop()
    assert code == 0 and elapsed < 1.0
    start(start_stub, port, state)
    assert client.v1.customers.retrieve(customer.id).email == "ann@example.com"
    assert client.v1.prices.retrieve(price.id).unit_amount == 1500


def test_refuses_to_start_without_its_key(start_stub, tmp_path, free_port):
    stub = start_stub("stripe", "--port", free_port(), "--state-dir", tmp_path / "s")
    assert stub.proc.wait(timeout=10) == 2
    assert "DEVSTACK_STRIPE_SECRET_KEY is not set" in stub.log
