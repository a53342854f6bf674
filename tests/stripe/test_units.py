"""The emulator's small parts: form brackets, periods, durations, signatures the SDK accepts, masking, search."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import stripe

from devstack.stubs.stripe import clock, delivery, errors, forms
from devstack.stubs.stripe.objects import Ctx, diff, search


def test_bracketed_params_become_nested_values():
    pairs = [("items[0][price]", "price_a"), ("items[0][quantity]", "2"), ("items[1][price]", "price_b"), ("metadata[plan]", "pro"),
             ("expand[]", "customer"), ("expand[]", "latest_invoice.payment_intent"), ("lookup_keys[0]", "k")]
    assert forms.parse_pairs(pairs) == {
        "items": [{"price": "price_a", "quantity": "2"}, {"price": "price_b"}], "metadata": {"plan": "pro"},
        "expand": ["customer", "latest_invoice.payment_intent"], "lookup_keys": ["k"]}
    p = forms.Params(forms.parse_pairs(pairs))
    assert p.items("items")[0].int("quantity") == 2 and p.strings("expand")[1] == "latest_invoice.payment_intent"
    with pytest.raises(errors.StripeError) as bad:
        forms.Params({"amount": "12x"}).int("amount")
    assert bad.value.body()["error"]["code"] == "parameter_invalid_integer" and bad.value.param == "amount"
    assert forms.Params({"metadata": {"a": "", "b": "2"}}).metadata({"a": "1", "c": "3"}) == {"b": "2", "c": "3"}
    assert forms.Params({"metadata": ""}).metadata({"a": "1"}) == {}


def test_periods_clamp_to_month_ends_and_durations_parse():
    jan31 = int(datetime(2024, 1, 31, 12, tzinfo=timezone.utc).timestamp())
    assert datetime.fromtimestamp(clock.add_interval(jan31, "month"), timezone.utc).date().isoformat() == "2024-02-29"
    assert datetime.fromtimestamp(clock.add_interval(jan31, "year"), timezone.utc).date().isoformat() == "2025-01-31"
    assert clock.add_interval(jan31, "week", 2) - jan31 == 14 * 86400
    assert clock.parse_duration("31d") == 31 * 86400 and clock.parse_duration("1d12h") == 36 * 3600 and clock.parse_duration("90") == 90
    with pytest.raises(ValueError):
        clock.parse_duration("a month")


def test_signature_is_what_stripe_python_verifies():
    payload = '{\n  "id": "evt_1",\n  "object": "event"\n}'
    header = delivery.signature(payload, "whsec_test")
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_test")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other")
    assert delivery.next_delay(1) == 1 and delivery.next_delay(3) == 4 and delivery.next_delay(30) == delivery.MAX_DELAY


def test_keys_are_masked_like_stripe():
    assert errors.mask("sk_test_abcdefghijklmnopqrstuvwx") == "sk_test_" + "*" * 20 + "uvwx"
    body = errors.auth_invalid("sk_live_secretsecret1234").body()
    assert body == {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_live_************1234"}}


def test_previous_attributes_hold_only_what_changed():
    before = {"status": "active", "metadata": {"a": "1", "b": "2"}, "items": {"object": "list", "data": [1]}, "_secret": 1}
    after = {"status": "past_due", "metadata": {"a": "1", "b": "3"}, "items": {"object": "list", "data": [2]}, "_secret": 2}
    assert diff(before, after) == {"status": "active", "metadata": {"b": "2"}, "items": {"object": "list", "data": [1]}}


def test_search_query_language_subset():
    items = [{"id": "cus_1", "email": "a@x.io", "metadata": {"plan": "pro"}, "created": 10},
             {"id": "cus_2", "email": "b@x.io", "metadata": {}, "created": 20}]

    def ids(query):
        return [o["id"] for o in search(Ctx(None, forms.Params({"query": query}), 0), items, "/v1/customers/search")["data"]]

    assert ids("email:'a@x.io'") == ["cus_1"]
    assert ids("metadata['plan']:'pro' AND created>5") == ["cus_1"]
    assert ids("-email:'a@x.io'") == ["cus_2"]
    assert ids("created<=20 AND created>10") == ["cus_2"]
    with pytest.raises(errors.StripeError):
        ids("email ~ 'x'")
