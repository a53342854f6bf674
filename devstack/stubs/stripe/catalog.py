"""Products and prices (one-time and recurring, lookup keys)."""
from __future__ import annotations

import copy

from devstack.stubs.stripe import errors
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.objects import Ctx, Route, deleted, equal_filter, new, page, search

INTERVALS = ("day", "week", "month", "year")


# -- products -----------------------------------------------------------------------------

def create_product(ctx: Ctx) -> dict:
    p = ctx.params
    id_ = p.str("id")
    if id_ and ctx.store.get(id_):
        raise errors.invalid(f"Product already exists: {id_}", "id", "resource_already_exists")
    product = new(ctx, "product", "prod", {
        "active": p.bool("active", True), "default_price": None, "description": p.str("description"),
        "images": p.strings("images"), "marketing_features": [], "metadata": p.metadata(), "name": p.str("name", required=True),
        "package_dimensions": None, "shippable": p.bool("shippable"), "statement_descriptor": p.str("statement_descriptor"),
        "tax_code": p.str("tax_code"), "type": "service", "unit_label": p.str("unit_label"), "updated": ctx.now, "url": p.str("url"),
    }, id_)
    ctx.put(product)
    ctx.emit("product.created", product)
    if "default_price_data" in p:
        price = make_price(ctx, p.sub("default_price_data"), product["id"])
        before = copy.deepcopy(product)
        product["default_price"] = price["id"]
        ctx.put(product)
        ctx.emit("product.updated", product, before)
    return product


def update_product(ctx: Ctx, id: str) -> dict:
    product = ctx.get("product", id, kind="product")
    before = copy.deepcopy(product)
    p = ctx.params
    p.update(product, "name", "description", "statement_descriptor", "tax_code", "unit_label", "url")
    if not product.get("name"):
        raise errors.invalid("You must provide a name for the product.", "name")
    if "active" in p:
        product["active"] = p.bool("active")
    if "images" in p:
        product["images"] = p.strings("images")
    if "default_price" in p:
        price_id = p.str("default_price")
        if price_id:
            price = ctx.get("price", price_id, "default_price")
            if price["product"] != id:
                raise errors.invalid(f"The price {price_id} does not belong to product {id}.", "default_price")
        product["default_price"] = price_id
    product["metadata"] = p.metadata(product["metadata"])
    product["updated"] = ctx.now
    ctx.put(product)
    ctx.emit("product.updated", product, before)
    return product


def delete_product(ctx: Ctx, id: str) -> dict:
    product = ctx.get("product", id, kind="product")
    if ctx.store.find("price", product=id):
        raise errors.invalid("This product cannot be deleted because it has one or more user-created prices.", code="product_has_prices")
    ctx.store.delete(id)
    ctx.emit("product.deleted", product)
    return deleted(product)


def list_products(ctx: Ctx) -> dict:
    items = equal_filter(ctx.params, ctx.store.all("product"), "active", "url", "shippable")
    ids = ctx.params.strings("ids")
    if ids:
        items = [o for o in items if o["id"] in ids]
    return page(ctx, items, "/v1/products")


# -- prices -------------------------------------------------------------------------------

def make_price(ctx: Ctx, p: Params, product_id: str | None = None, id_: str | None = None) -> dict:
    """A price from create params (also inline `price_data` of checkout and subscription items)."""
    if product_id is None:
        if p.given("product_data"):
            product_id = create_product(ctx.sub(p.raw("product_data")))["id"]
        else:
            product_id = p.str("product", required=True)
            ctx.get("product", product_id, p.name("product"), kind="product")
    if p.given("tiers") or p.str("billing_scheme") == "tiered":
        raise errors.invalid("Tiered prices are not emulated by devstack; use per-unit prices locally.", p.name("billing_scheme"))
    if p.given("unit_amount_decimal"):
        amount = int(float(p.str("unit_amount_decimal")))
    elif p.given("custom_unit_amount"):
        amount = None
    else:
        amount = p.int("unit_amount", required=True, minimum=0)
    recurring = None
    if p.given("recurring"):
        r = p.sub("recurring")
        interval = r.str("interval", required=True, choices=INTERVALS)
        recurring = {"interval": interval, "interval_count": r.int("interval_count", 1, minimum=1), "meter": None,
                     "trial_period_days": r.int("trial_period_days"), "usage_type": r.str("usage_type", "licensed")}
    lookup_key = p.str("lookup_key")
    if lookup_key:
        claim_lookup_key(ctx, lookup_key, p.bool("transfer_lookup_key", False))
    price = new(ctx, "price", "price", {
        "active": p.bool("active", True), "billing_scheme": "per_unit", "currency": p.str("currency", required=True).lower(),
        "custom_unit_amount": None, "lookup_key": lookup_key, "metadata": p.metadata(), "nickname": p.str("nickname"),
        "product": product_id, "recurring": recurring, "tax_behavior": p.str("tax_behavior", "unspecified"), "tiers_mode": None,
        "transform_quantity": None, "type": "recurring" if recurring else "one_time", "unit_amount": amount,
        "unit_amount_decimal": None if amount is None else str(amount),
    }, id_)
    ctx.put(price)
    ctx.emit("price.created", price)
    return price


def claim_lookup_key(ctx: Ctx, key: str, transfer: bool, owner: str | None = None) -> None:
    for other in ctx.store.find("price", lookup_key=key):
        if other["id"] == owner:
            continue
        if not transfer:
            raise errors.invalid(f"A price (`{other['id']}`) already uses that lookup key.", "lookup_key")
        before = copy.deepcopy(other)
        other["lookup_key"] = None
        ctx.put(other)
        ctx.emit("price.updated", other, before)


def create_price(ctx: Ctx) -> dict:
    # `id` is devstack's extension (real Stripe makes price ids): seed files name stable prices.
    id_ = ctx.params.str("id")
    if id_ and ctx.store.get(id_):
        raise errors.invalid(f"Price already exists: {id_}", "id", "resource_already_exists")
    return make_price(ctx, ctx.params, id_=id_)


def update_price(ctx: Ctx, id: str) -> dict:
    price = ctx.get("price", id, kind="price")
    before = copy.deepcopy(price)
    p = ctx.params
    if "active" in p:
        price["active"] = p.bool("active")
    p.update(price, "nickname", "tax_behavior")
    if "lookup_key" in p:
        key = p.str("lookup_key")
        if key:
            claim_lookup_key(ctx, key, p.bool("transfer_lookup_key", False), owner=id)
        price["lookup_key"] = key
    price["metadata"] = p.metadata(price["metadata"])
    ctx.put(price)
    ctx.emit("price.updated", price, before)
    return price


def list_prices(ctx: Ctx) -> dict:
    p = ctx.params
    items = equal_filter(p, ctx.store.all("price"), "active", "product", "type", "currency")
    keys = p.strings("lookup_keys")
    if keys:
        items = [o for o in items if o.get("lookup_key") in keys]
    if p.given("recurring"):
        interval = p.sub("recurring").str("interval")
        items = [o for o in items if o.get("recurring") and (not interval or o["recurring"]["interval"] == interval)]
    return page(ctx, items, "/v1/prices")


ROUTES = [
    Route("POST", "/v1/products", create_product),
    Route("GET", "/v1/products", list_products),
    Route("GET", "/v1/products/search", lambda ctx: search(ctx, ctx.store.all("product"), "/v1/products/search")),
    Route("GET", "/v1/products/{id}", lambda ctx, id: ctx.get("product", id, kind="product")),
    Route("POST", "/v1/products/{id}", update_product),
    Route("DELETE", "/v1/products/{id}", delete_product),
    Route("POST", "/v1/prices", create_price),
    Route("GET", "/v1/prices", list_prices),
    Route("GET", "/v1/prices/search", lambda ctx: search(ctx, ctx.store.all("price"), "/v1/prices/search")),
    Route("GET", "/v1/prices/{id}", lambda ctx, id: ctx.get("price", id, kind="price")),
    Route("POST", "/v1/prices/{id}", update_price),
]
