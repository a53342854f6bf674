"""Webhook delivery through the CLI: retries while the app is down or failing, `events`, `resend`,
`listen --forward-to`, and `trigger` for the events the apps handle."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from tests.stripe.conftest import Receiver

TRIGGERED = ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", "checkout.session.completed",
             "checkout.session.expired", "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
             "customer.subscription.trial_will_end", "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"]


def deliveries(stripe_stack, event_id: str) -> list[dict]:
    out = json.loads(stripe_stack.cli("events", "--json", "--limit", "100").stdout)
    return next(e["deliveries"] for e in out["data"] if e["id"] == event_id)


def wait_until(what, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.2)


def test_retried_while_the_app_is_down_then_delivered(stripe_stack, receiver):
    receiver.stop()
    try:
        out = stripe_stack.cli("trigger", "payment_intent.succeeded", "--override", "payment_intent:amount=777",
                               "--override", "metadata.order=5")
        event_id = next(line.split()[0] for line in out.stdout.splitlines() if line.endswith("payment_intent.succeeded"))
        failed = wait_until("two failed attempts", lambda: [d for d in deliveries(stripe_stack, event_id) if len(d["history"]) >= 2])
        assert failed[0]["state"] == "pending" and all(a["status"] is None and a["error"] for a in failed[0]["history"])
        shown = stripe_stack.cli("events").stdout
        assert any(event_id in line and "retrying (" in line and receiver.url in line for line in shown.splitlines()), shown
    finally:
        receiver.start()
    event = receiver.wait("payment_intent.succeeded", lambda pi: pi["amount"] == 777, timeout=30)
    assert event["id"] == event_id and event["data"]["object"]["metadata"] == {"order": "5"}
    [done] = deliveries(stripe_stack, event_id)
    assert done["state"] == "delivered" and done["history"][-1]["status"] == 200 and len(done["history"]) >= 3
    assert f"{event_id}" in stripe_stack.cli("events", "--type", "payment_intent.succeeded").stdout


def test_non_2xx_answers_are_retried_and_recorded(stripe_stack, receiver):
    receiver.answer = 500
    try:
        out = stripe_stack.cli("trigger", "customer.created")
        event_id = out.stdout.split()[0]
        wait_until("a 500 recorded", lambda: any(a["status"] == 500 for d in deliveries(stripe_stack, event_id) for a in d["history"]))
    finally:
        receiver.answer = 200
    wait_until("delivered once the app answers 200", lambda: event_id in [e["id"] for e in receiver.events], timeout=30)
    history = deliveries(stripe_stack, event_id)[0]["history"]
    assert history[0]["status"] == 500 and history[0]["response"] == '{"error": "app failed"}' and history[-1]["status"] == 200


def test_resend_delivers_the_same_event_again(stripe_stack, receiver):
    event_id = stripe_stack.cli("trigger", "product.created").stdout.split()[0]
    receiver.wait("product.created")
    stripe_stack.cli("resend", event_id)
    wait_until("the second copy", lambda: [e["id"] for e in receiver.events].count(event_id) == 2)
    bad = stripe_stack.cli("resend", "evt_nope", check=False)
    assert bad.returncode == 2 and "No such event: 'evt_nope'" in bad.stderr


def test_listen_forwards_new_events_and_prints_the_answers(stripe_stack, receiver):
    app = Receiver(secret=stripe_stack.webhook_secret).start()
    listen = stripe_stack.stack.popen("stripe", "listen", "--forward-to", app.url, "--events", "invoice.paid,payment_intent.succeeded")
    said: list[str] = []
    printed: list[str] = []
    readers = [threading.Thread(target=lambda: said.extend(listen.stderr), daemon=True),
               threading.Thread(target=lambda: printed.extend(listen.stdout), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        wait_until("listen ready", lambda: any("Ready!" in line for line in said) or listen.poll() is not None)
        assert listen.poll() is None, said
        stripe_stack.cli("trigger", "invoice.paid")
        paid = app.wait("invoice.paid")
        app.wait("payment_intent.succeeded")
        wait_until("the answer printed", lambda: any(f"[{paid['id']}]" in line and "<--" in line for line in printed))
        assert "customer.created" not in app.types()  # only the types asked for
        assert not app.bad and app.refused_wrong_secret == len(app.events)
    finally:
        listen.send_signal(signal.SIGINT)
        listen.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=5)
        app.stop()
    stdout = "".join(printed)
    assert any("Ready! Forwarding invoice.paid,payment_intent.succeeded" in line for line in said)
    assert f"--> invoice.paid [{paid['id']}]" in stdout and f"<--  [200] POST {app.url} [{paid['id']}]" in stdout
    assert listen.returncode == 0
    assert any(d["endpoint"] == "listen" and d["state"] == "delivered" for d in deliveries(stripe_stack, paid["id"]))


@pytest.mark.parametrize("event", TRIGGERED)
def test_trigger_makes_the_event_consistent(stripe_stack, receiver, event):
    out = stripe_stack.cli("trigger", event)
    assert event in out.stdout.split(), out.stdout
    arrived = receiver.wait(event)["data"]["object"]
    assert arrived["id"] and arrived["livemode"] is False


def test_trigger_and_checkout_errors_are_one_line(stripe_stack, receiver):
    bad = stripe_stack.cli("trigger", "invoice.pad", check=False)
    assert bad.returncode == 2 and "cannot trigger `invoice.pad`" in bad.stderr and "invoice.paid" in bad.stderr
    assert "Traceback" not in bad.stderr
    session = stripe_stack.client().v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://example.com/ok",
        "line_items": [{"price_data": {"currency": "eur", "unit_amount": 900, "product_data": {"name": "Ticket"}}, "quantity": 2}]})
    stripe_stack.cli("checkout", "expire", session.id)
    assert receiver.wait("checkout.session.expired", lambda s: s["id"] == session.id)["data"]["object"]["status"] == "expired"
    again = stripe_stack.cli("checkout", "complete", session.id, check=False)
    assert again.returncode == 2 and "expired" in again.stderr
    declined = stripe_stack.client().v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "https://example.com/ok",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 100, "product_data": {"name": "X"}}, "quantity": 1}]})
    refused = stripe_stack.cli("checkout", "complete", declined.id, "--card", "4000000000000002", check=False)
    assert refused.returncode == 2 and "Your card was declined." in refused.stderr
    assert stripe_stack.cli("advance", "soon", check=False).stderr.count("not a duration") == 1
