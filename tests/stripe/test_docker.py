"""Under the Docker runtime the Stripe emulator is a host process beside the containers (a real engine)."""

from __future__ import annotations

import pytest
import stripe

from tests.docker.test_docker_e2e import IMAGES, assert_nothing_left, docker_engine, make_project, process_gone  # noqa: F401

pytestmark = pytest.mark.docker


def test_emulator_beside_containers_keeps_state_across_down_up(docker_engine, tmp_path):  # noqa: F811
    p = make_project(tmp_path, "e2e-billing", f"  cache:\n    kind: redis\n    image: {IMAGES['redis']}\n  stripe: {{}}\n")
    try:
        p.cli("up")
        states = {s["name"]: s for s in p.status()["services"]}
        assert states["stripe"]["state"] == "ready" and states["stripe"]["pid"]
        assert set(p.health()) == {"cache"}  # the emulator is not a container
        env = p.env_file()
        client = stripe.StripeClient(env["STRIPE_SECRET_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}, max_network_retries=0)
        customer = client.v1.customers.create(params={"email": "docker@example.com"})
        assert "customer.created" in p.cli("stripe", "trigger", "customer.created").stdout
        p.cli("down")
        assert process_gone(states["stripe"]["pid"])
        p.cli("up")
        assert client.v1.customers.retrieve(customer.id).email == "docker@example.com"
        p.cli("down", "--volumes")
    finally:
        p.teardown()
    assert_nothing_left(p)
