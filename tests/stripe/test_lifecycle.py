"""The emulator as a service of the stack, through the CLI: state across down/up and a kill -9,
gone with `down --volumes`; private files; the Docker runtime runs it on the host, not in compose."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
import urllib.error
import urllib.request

import pytest
import stripe

from tests.runtime.conftest import finish, make_stack
from tests.stripe.conftest import free_port

MANIFEST = """\
project: keeps-billing
services:
  pay:
    kind: stripe
    port: {port}
"""


@pytest.fixture
def stack(tmp_path, devstack_home):
    made = make_stack(tmp_path / "app", devstack_home, MANIFEST.format(port=free_port()))
    yield made
    finish(made)


def client(out):
    return stripe.StripeClient(out["secret_key"], base_addresses={"api": out["api_base"]}, max_network_retries=0)


def test_state_survives_down_up_and_kill_then_volumes_delete_it(stack):
    stack.up()
    out = stack.outputs()["pay"]
    assert "devstack Stripe emulator" in stack.status()["pay"]["detail"]
    c = client(out)
    customer = c.v1.customers.create(params={"email": "kept@example.com", "payment_method": "pm_card_visa",
                                             "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    product = c.v1.products.create(params={"name": "Kept", "default_price_data": {"currency": "usd", "unit_amount": 900,
                                                                                   "recurring": {"interval": "month"}}})
    sub = c.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": product.default_price}]})
    assert sub.status == "active"

    data = stack.state / "pay" / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [p for p in data.iterdir() if p.name.startswith("stripe.sqlite3")]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [(p.name, oct(p.stat().st_mode)) for p in files]

    stack.cli("down")
    stack.assert_no_process_left()
    stack.up()
    c = client(stack.outputs()["pay"])
    assert c.v1.customers.retrieve(customer.id).email == "kept@example.com"
    assert c.v1.subscriptions.retrieve(sub.id).status == "active"
    assert [e.type for e in c.v1.events.list(params={"type": "customer.subscription.created"}).data] == ["customer.subscription.created"]

    # Killed without warning right after an answer: what was answered is on disk.
    late = c.v1.customers.create(params={"email": "late@example.com"})
    pid = json.loads((stack.state / "pay" / "pid").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split(")")[1][:3]:
        time.sleep(0.05)
    stack.up()
    assert client(stack.outputs()["pay"]).v1.customers.retrieve(late.id).email == "late@example.com"

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(out["api_base"] + "/v1/customers", headers={"Authorization": "Bearer sk_test_guess"}))
    assert refused.value.code == 401 and json.loads(refused.value.read())["error"]["type"] == "invalid_request_error"

    stack.cli("down", "--volumes")
    assert not data.exists()
    stack.up()
    with pytest.raises(stripe.InvalidRequestError):
        client(stack.outputs()["pay"]).v1.customers.retrieve(customer.id)


def test_docker_runtime_runs_the_emulator_beside_the_containers(tmp_path):
    """No engine needed: the plan and the compose file are enough to see where it runs."""
    from devstack import manifest, plan, render
    from devstack.runtime.native import NativeRuntime

    (tmp_path / "devstack.yaml").write_text("project: where\nruntime: docker\nservices:\n  pay: {kind: stripe}\n"
                                            "  shapes: {kind: stripe, implementation: stripe-mock}\n")
    p = plan.build(manifest.load(tmp_path / "devstack.yaml"))
    assert p.services["pay"].on_host and not p.services["pay"].in_container
    assert p.services["shapes"].in_container and not p.services["shapes"].on_host
    assert set(render.compose_dict(p)["services"]) == {"shapes"}
    assert [s.name for s in NativeRuntime(stubs_only=True).managed(p)] == ["pay"]
    assert p.services["pay"].outputs["implementation"] == "emulator" and p.services["shapes"].outputs["implementation"] == "stripe-mock"
