"""Small additions to localstripe 1.15 so current stripe-python/stripe-node flows work.

localstripe predates the Prices API (it only has Plans), and rejects any unknown
parameter with 400 "Unexpected ...". We add:
  * a minimal Price resource: /v1/prices create/retrieve/update/list;
  * PaymentIntent create accepting `automatic_payment_methods` (ignored: localstripe
    only does cards) and storing `description` / `receipt_email` /
    `statement_descriptor(_suffix)` / `setup_future_usage` instead of rejecting them.
Price lives in this importable module (not __main__) so pickled stores reload.
"""
from __future__ import annotations

from localstripe import server
from localstripe.errors import UserError
from localstripe.resources import (Event, PaymentIntent, Product, StripeObject,
                                   schedule_webhook, try_convert_to_bool, try_convert_to_int)


class Price(StripeObject):
    object = "price"
    _id_prefix = "price_"

    def __init__(self, id=None, currency=None, product=None, product_data=None,
                 unit_amount=None, unit_amount_decimal=None, recurring=None, nickname=None,
                 lookup_key=None, metadata=None, active=True, billing_scheme="per_unit",
                 tax_behavior="unspecified", **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        if unit_amount is None and unit_amount_decimal is not None:
            unit_amount = try_convert_to_int(str(unit_amount_decimal).split(".")[0])
        unit_amount = try_convert_to_int(unit_amount)
        active = try_convert_to_bool(active)
        try:
            assert type(currency) is str and currency
            assert type(unit_amount) is int and unit_amount >= 0
            assert (product is None) != (product_data is None)
            assert product is None or type(product) is str
            assert product_data is None or type(product_data) is dict
            assert type(active) is bool and billing_scheme == "per_unit"
            if recurring is not None:
                assert type(recurring) is dict
                assert recurring.get("interval") in ("day", "week", "month", "year")
                recurring = {"interval": recurring["interval"],
                             "interval_count": try_convert_to_int(
                                 recurring.get("interval_count", 1)),
                             "usage_type": recurring.get("usage_type", "licensed"),
                             "aggregate_usage": None, "meter": None,
                             "trial_period_days": None}
                assert type(recurring["interval_count"]) is int
        except AssertionError:
            raise UserError(400, "Bad request") from None

        if product is not None:
            Product._api_retrieve(product)  # 404 if it does not exist
        else:
            product = Product(**product_data).id

        # All exceptions must be raised before this point (it stores the object).
        super().__init__(id)
        self.active = active
        self.billing_scheme = billing_scheme
        self.currency = currency
        self.custom_unit_amount = None
        self.lookup_key = lookup_key
        self.metadata = metadata or {}
        self.nickname = nickname
        self.product = product
        self.recurring = recurring
        self.tax_behavior = tax_behavior
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring" if recurring else "one_time"
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)

        schedule_webhook(Event("price.created", self))

    def _update(self, **data):
        if "active" in data:  # form-encoded bodies carry "true"/"false" strings
            data["active"] = try_convert_to_bool(data["active"])
            if type(data["active"]) is not bool:
                raise UserError(400, "Bad request")
        super()._update(**data)

    @classmethod
    def _api_list_all(cls, url, limit=None, starting_after=None, **filters):
        lookup_keys = filters.pop("lookup_keys", None)
        unknown = set(filters) - {"active", "product", "currency", "type"}
        if unknown:
            raise UserError(400, "Unexpected " + ", ".join(unknown))
        if "active" in filters:
            filters["active"] = try_convert_to_bool(filters["active"])
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = [p for p in li._list
                    if all(getattr(p, k) == v for k, v in filters.items())
                    and (lookup_keys is None or p.lookup_key in lookup_keys)]
        return li


_PI_STORED = ("description", "receipt_email", "statement_descriptor",
              "statement_descriptor_suffix", "setup_future_usage")


def _tolerant_pi_create(original):
    def create(cls, **data):
        data.pop("automatic_payment_methods", None)
        stored = {k: data.pop(k, None) for k in _PI_STORED}
        obj = original(**data)
        for k, v in stored.items():
            setattr(obj, k, v)
        return obj
    return classmethod(create)


_installed = False


def install() -> None:
    """Register the additions on localstripe's (module-level) app, before it serves."""
    global _installed
    if _installed:
        return
    _installed = True
    PaymentIntent._api_create = _tolerant_pi_create(PaymentIntent._api_create)
    url = "/v1/prices"
    server.app.router.add_post(url, server.api_create(Price, url))
    server.app.router.add_get(url + "/{id}", server.api_retrieve(Price, url))
    server.app.router.add_post(url + "/{id}", server.api_update(Price, url))
    server.app.router.add_get(url, server.api_list_all(Price, url))
