"""Stripe fixtures: products (with their prices), customers and subscriptions, upserted through the API.

    products:
      - id: prod_railgun_pro            # optional: a stable id the app's env can name
        name: Rail Gun Pro
        prices:
          - {id: price_railgun_pro_monthly, lookup_key: railgun_pro_monthly,
             currency: usd, unit_amount: 499, recurring: {interval: month}}
    customers:
      - {email: alice@example.com, name: Alice Example, metadata: {user_id: "1"}}
    subscriptions:                      # the app starts with a paying customer
      - {customer: alice@example.com, price: railgun_pro_monthly}   # price id or lookup_key; card: pm_card_visa

Only a backend that keeps state (devstack's emulator) can hold fixtures. stripe-mock
answers every call with canned data: detected (a created object does not come
back), said once, and nothing is recorded. Objects are found again by id,
lookup_key or email and updated in place, so seeding twice creates no
duplicates; `--reset` re-applies the fixtures (objects the app created stay).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from devstack.seed.base import Fixture, SeedError, Seeder, short_error

TOP = ("products", "prices", "customers", "subscriptions")
PRODUCT_KEYS = ("id", "name", "description", "active", "metadata", "url", "statement_descriptor", "prices")
PRICE_KEYS = ("id", "product", "currency", "unit_amount", "recurring", "lookup_key", "nickname", "active", "metadata")
CUSTOMER_KEYS = ("email", "name", "description", "phone", "address", "metadata")
SUBSCRIPTION_KEYS = ("customer", "price", "quantity", "items", "card", "trial_period_days", "cancel_at_period_end", "metadata")
ITEM_KEYS = ("price", "quantity")
STATELESS = "stripe-mock keeps no state: Stripe fixtures not loaded"


def form(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: metadata[k]=v, recurring[interval]=month, items[0][price]=..."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, dict):
            pairs += form(value, name)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                pairs += form(item, f"{name}[{i}]") if isinstance(item, dict) else [(f"{name}[{i}]", _text(item))]
        else:
            pairs.append((name, _text(value)))
    return pairs


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class StripeApi:
    def __init__(self, base: str, key: str, service: str):
        self.base, self.key, self.service = base.rstrip("/"), key, service

    def call(self, method: str, path: str, params: dict | None = None, ok404: bool = False):
        data = None
        url = self.base + path
        if params and method == "GET":
            url += "?" + urllib.parse.urlencode(form(params))
        elif params:
            data = urllib.parse.urlencode(form(params)).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/x-www-form-urlencoded", "Stripe-Version": "2024-06-20"})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and ok404:
                return None
            body = exc.read().decode(errors="replace")
            try:
                message = json.loads(body).get("error", {}).get("message") or body
            except ValueError:
                message = body
            raise SeedError(f"{self.service}: {method} {path}: HTTP {exc.code}: {short_error(message)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SeedError(f"{self.service}: cannot reach the Stripe API at {self.base}: {getattr(exc, 'reason', exc)}",
                            "is the stack up? `devstack up` / `devstack status`", intact=True) from None

    def list_all(self, path: str, params: dict | None = None):
        params = dict(params or {}, limit=100)
        while True:
            page = self.call("GET", path, params)
            items = page.get("data", [])
            yield from items
            if not page.get("has_more") or not items:
                return
            params["starting_after"] = items[-1]["id"]


class Problem_(Exception):
    pass


def _check(obj, allowed_keys, required, where: str) -> None:
    if not isinstance(obj, dict):
        raise Problem_(f"{where}: expected a mapping, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in allowed_keys]
    if unknown:
        raise Problem_(f"{where}: unknown key `{unknown[0]}` (allowed: {', '.join(allowed_keys)})")
    missing = [k for k in required if obj.get(k) in (None, "")]
    if missing:
        raise Problem_(f"{where}: `{missing[0]}` is required")
    if "metadata" in obj and not isinstance(obj["metadata"], dict):
        raise Problem_(f"{where}: metadata must be a mapping")


def _check_subscription(item: dict, i: int) -> None:
    where = f"subscriptions[{i}]"
    if ("price" in item) == ("items" in item):
        raise Problem_(f"{where}: give `price:` (one price id or lookup_key) or `items:` (a list of {{price, quantity}}), one of the two")
    for j, entry in enumerate(item.get("items") or []):
        _check(entry, ITEM_KEYS, ("price",), f"{where}.items[{j}]")
    for entry in [item] if "price" in item else item.get("items") or []:
        quantity = entry.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise Problem_(f"{where}: quantity is a whole number of at least 1")
    if not isinstance(item.get("card", "pm_card_visa"), str):
        raise Problem_(f"{where}: card is a test card number (\"4242424242424242\") or token (pm_card_visa)")


def parse_file(fx: Fixture) -> dict:
    from devstack.seed.yamlfast import load_located

    text = fx.path.read_text(encoding="utf-8-sig")
    try:
        located = load_located(text)
    except Exception as exc:  # yaml.YAMLError (JSON is read as YAML too, with lines)
        mark = getattr(exc, "problem_mark", None)
        raise SeedError(f"{fx.rel}:{mark.line + 1 if mark else 1}: invalid {fx.suffix[1:].upper()}: {getattr(exc, 'problem', None) or exc}") from None
    data = located.data or {}

    def fail(path: tuple, message: str):
        return SeedError(f"{fx.rel}:{located.line(path) or 1}: {message}", "see docs/seeding.md (Stripe)")

    if not isinstance(data, dict):
        raise fail((), "expected a mapping with products / prices / customers / subscriptions")
    for key in data:
        if key not in TOP:
            raise fail((key,), f"unknown key `{key}` (allowed: {', '.join(TOP)})")
    for section, keys, required in (("products", PRODUCT_KEYS, ("name",)), ("prices", PRICE_KEYS, ("product", "currency", "unit_amount")),
                                    ("customers", CUSTOMER_KEYS, ("email",)), ("subscriptions", SUBSCRIPTION_KEYS, ("customer",))):
        items = data.get(section) or []
        if not isinstance(items, list):
            raise fail((section,), f"{section}: expected a list")
        for i, item in enumerate(items):
            try:
                _check(item, keys, required, f"{section}[{i}]")
                for j, price in enumerate(item.get("prices") or [] if section == "products" else []):
                    _check(price, [k for k in PRICE_KEYS if k != "product"], ("currency", "unit_amount"), f"{section}[{i}].prices[{j}]")
                    if isinstance(price.get("unit_amount"), bool) or not isinstance(price.get("unit_amount"), int):
                        raise Problem_(f"{section}[{i}].prices[{j}]: unit_amount is an integer in the smallest currency unit (499 = $4.99)")
                if section == "prices" and (isinstance(item.get("unit_amount"), bool) or not isinstance(item.get("unit_amount"), int)):
                    raise Problem_(f"prices[{i}]: unit_amount is an integer in the smallest currency unit (499 = $4.99)")
                if section == "subscriptions":
                    _check_subscription(item, i)
            except Problem_ as exc:
                raise fail((section, i), str(exc)) from None
    return {section: data.get(section) or [] for section in TOP}


class StripeSeeder(Seeder):
    kind = "stripe"
    extensions = (".yaml", ".yml", ".json")

    def api(self) -> StripeApi:
        o = self.svc.outputs
        return StripeApi(o["api_base"], o["secret_key"], self.name)

    def stateless(self, api: StripeApi) -> bool:
        """Create a customer, fetch it back: stripe-mock returns canned data instead."""
        email = f"devstack-probe-{secrets.token_hex(4)}@devstack.invalid"
        created = api.call("POST", "/v1/customers", {"email": email, "description": "devstack seed probe"})
        fetched = api.call("GET", f"/v1/customers/{created.get('id', 'cus_x')}", ok404=True)
        keeps = bool(fetched) and fetched.get("email") == email
        if keeps:
            api.call("DELETE", f"/v1/customers/{created['id']}", ok404=True)
        return not keeps

    def load(self, fixtures):
        t0 = time.monotonic()
        docs = [parse_file(fx) for fx in fixtures]  # every file is checked before the API is called
        api = self.api()
        if self.stateless(api):
            self.say(STATELESS)
            return None
        record = self.apply(api, docs)
        counts = ", ".join(f"{len(record[k])} {k}" for k in TOP if record[k])
        self.say(f"{counts or 'nothing'} in {time.monotonic() - t0:.2f}s")
        return record

    def apply(self, api: StripeApi, docs: list[dict]) -> dict:
        record: dict[str, list[str]] = {k: [] for k in TOP}
        for doc in docs:
            for product in doc["products"]:
                pid = self.upsert_product(api, product)
                record["products"].append(pid)
                for price in product.get("prices") or []:
                    record["prices"].append(self.upsert_price(api, {**price, "product": pid}))
            for price in doc["prices"]:
                record["prices"].append(self.upsert_price(api, price))
            for customer in doc["customers"]:
                record["customers"].append(self.upsert_customer(api, customer))
            for subscription in doc["subscriptions"]:
                record["subscriptions"].append(self.upsert_subscription(api, subscription))
        return record

    def upsert_product(self, api, product: dict) -> str:
        fields = {k: v for k, v in product.items() if k != "prices"}
        existing = None
        if fields.get("id"):
            existing = api.call("GET", f"/v1/products/{fields['id']}", ok404=True)
        else:
            existing = next((p for p in api.list_all("/v1/products") if p.get("name") == fields["name"]), None)
        if existing:
            update = {k: v for k, v in fields.items() if k != "id"}
            api.call("POST", f"/v1/products/{existing['id']}", update)
            return existing["id"]
        return api.call("POST", "/v1/products", fields)["id"]

    def upsert_price(self, api, price: dict) -> str:
        existing = None
        if price.get("id"):
            existing = api.call("GET", f"/v1/prices/{price['id']}", ok404=True)
        elif price.get("lookup_key"):
            existing = next(iter(api.call("GET", "/v1/prices", {"lookup_keys": [price["lookup_key"]]}).get("data", [])), None)
        else:
            interval = (price.get("recurring") or {}).get("interval")
            for candidate in api.list_all("/v1/prices", {"product": price["product"]}):
                if (candidate.get("currency") == str(price["currency"]).lower() and candidate.get("unit_amount") == price["unit_amount"]
                        and (candidate.get("recurring") or {}).get("interval") == interval):
                    existing = candidate
                    break
        if existing:
            same = (existing.get("unit_amount") == price["unit_amount"] and existing.get("currency") == str(price["currency"]).lower())
            if not same:
                self.say(f"price {existing['id']} exists with another amount/currency; Stripe prices are immutable: give it a new id/lookup_key")
            mutable = {k: price[k] for k in ("nickname", "active", "metadata", "lookup_key") if k in price}
            if mutable:
                api.call("POST", f"/v1/prices/{existing['id']}", mutable)
            return existing["id"]
        return api.call("POST", "/v1/prices", price)["id"]

    def upsert_customer(self, api, customer: dict) -> str:
        found = api.call("GET", "/v1/customers", {"email": customer["email"], "limit": 1}).get("data", [])
        if found:
            update = {k: v for k, v in customer.items() if k != "email"}
            if update:
                api.call("POST", f"/v1/customers/{found[0]['id']}", update)
            return found[0]["id"]
        return api.call("POST", "/v1/customers", customer)["id"]

    def upsert_subscription(self, api, spec: dict) -> str:
        """A live subscription of that customer to those prices: kept (metadata updated), else created with the card."""
        customer = self.find_customer(api, spec["customer"])
        entries = spec.get("items") or [{"price": spec["price"], "quantity": spec.get("quantity", 1)}]
        items = [{"price": self.find_price(api, entry["price"]), "quantity": entry.get("quantity", 1)} for entry in entries]
        wanted = sorted(item["price"] for item in items)
        for sub in api.list_all("/v1/subscriptions", {"customer": customer}):
            if sorted(i["price"]["id"] for i in sub["items"]["data"]) == wanted:
                if spec.get("metadata"):
                    api.call("POST", f"/v1/subscriptions/{sub['id']}", {"metadata": spec["metadata"]})
                return sub["id"]
        card = str(spec.get("card") or "pm_card_visa")
        if card.replace(" ", "").isdigit():
            pm = api.call("POST", "/v1/payment_methods", {"type": "card", "card": {"number": card.replace(" ", ""), "exp_month": 12,
                                                                                    "exp_year": time.gmtime().tm_year + 5, "cvc": "123"}})["id"]
        else:
            pm = card
        pm = api.call("POST", f"/v1/payment_methods/{pm}/attach", {"customer": customer})["id"]
        api.call("POST", f"/v1/customers/{customer}", {"invoice_settings": {"default_payment_method": pm}})
        params = {"customer": customer, "items": items, "default_payment_method": pm, "metadata": spec.get("metadata"),
                  "trial_period_days": spec.get("trial_period_days"), "cancel_at_period_end": spec.get("cancel_at_period_end")}
        return api.call("POST", "/v1/subscriptions", params)["id"]

    def find_customer(self, api, ref: str) -> str:
        if str(ref).startswith("cus_"):
            found = api.call("GET", f"/v1/customers/{ref}", ok404=True)
        else:
            found = next(iter(api.call("GET", "/v1/customers", {"email": ref, "limit": 1}).get("data", [])), None)
        if not found:
            raise SeedError(f"{self.name}: subscription for unknown customer `{ref}`", "list the customer under `customers:` (by email) first")
        return found["id"]

    def find_price(self, api, ref: str) -> str:
        found = api.call("GET", f"/v1/prices/{ref}", ok404=True) if str(ref).startswith("price_") else None
        if not found:
            found = next(iter(api.call("GET", "/v1/prices", {"lookup_keys": [ref]}).get("data", [])), None)
        if not found:
            raise SeedError(f"{self.name}: subscription to unknown price `{ref}`", "name a price id or lookup_key defined under `products:`")
        return found["id"]

    def present(self, record):
        api = self.api()
        if record.get("products"):
            return api.call("GET", f"/v1/products/{record['products'][0]}", ok404=True) is not None
        if record.get("customers"):
            return api.call("GET", f"/v1/customers/{record['customers'][0]}", ok404=True) is not None
        return True

    def reset(self, record):
        return False  # the API has no snapshot: the caller re-applies the fixtures (upserts)


seeder = StripeSeeder
