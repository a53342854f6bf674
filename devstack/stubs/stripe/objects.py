"""What every resource module shares: the call context, routes, lists, expansion, search."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Callable

from devstack.stubs.stripe import errors, events
from devstack.stubs.stripe.events import diff, render  # noqa: F401 - the resource modules take them from here
from devstack.stubs.stripe.forms import Params
from devstack.stubs.stripe.store import new_id

MAX_EXPAND_DEPTH = 4  # Stripe's limit


@dataclass
class Route:
    method: str
    path: str  # aiohttp pattern, e.g. /v1/customers/{id}
    handler: Callable
    public: bool = False  # a publishable key may call it (what Stripe.js calls)


@dataclass
class Ctx:
    """One API call (or one piece of clock-driven work): the store inside its transaction, the time, the events made."""

    emu: object
    params: Params
    now: int
    auth: str = "secret"  # secret | publishable | system
    request: dict = field(default_factory=lambda: {"id": None, "idempotency_key": None})
    events: list = field(default_factory=list)

    @property
    def store(self):
        return self.emu.store

    def get(self, type_: str, id_: str | None, param: str = "id", kind: str | None = None) -> dict:
        obj = self.store.get(id_, type_) if id_ else None
        if obj is None or obj.get("deleted"):
            raise errors.no_such(kind or type_, id_ or "", param)
        return obj

    def put(self, obj: dict) -> dict:
        return self.store.put(obj)

    def emit(self, type_: str, obj: dict, previous: dict | None = None) -> None:
        events.emit(self, type_, obj, previous)

    def sub(self, params: dict | None = None) -> "Ctx":
        """The same call with other parameters (one resource creating another)."""
        return Ctx(self.emu, Params(params or {}), self.now, self.auth, self.request, self.events)


def new(ctx: Ctx, object_: str, prefix: str, fields: dict, id_: str | None = None) -> dict:
    """A fresh object with the fields every Stripe object has."""
    return {"id": id_ or new_id(prefix), "object": object_, "created": ctx.now, "livemode": False, **fields}


# -- expand -------------------------------------------------------------------------------

def expand(ctx: Ctx, obj, paths: list[str]):
    obj = copy.deepcopy(obj)
    for path in paths:
        if path.count(".") >= MAX_EXPAND_DEPTH:
            raise errors.invalid(f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. Property: {path}", "expand")
        _expand(ctx, obj, path.split("."), path)
    return obj


def _expand(ctx: Ctx, obj, parts: list[str], whole: str) -> None:
    if isinstance(obj, list):
        for item in obj:
            _expand(ctx, item, parts, whole)
        return
    if not isinstance(obj, dict):
        return
    head, rest = parts[0], parts[1:]
    if head not in obj and f"_{head}" in obj:  # includable: only shown when expanded (checkout line_items)
        obj[head] = copy.deepcopy(obj[f"_{head}"])
    if head not in obj:
        raise errors.invalid(f"This property cannot be expanded ({whole}).", "expand")
    value = obj[head]
    if isinstance(value, str):
        loaded = ctx.store.get(value)
        if loaded is None:
            raise errors.invalid(f"This property cannot be expanded ({whole}).", "expand")
        obj[head] = value = loaded
    if rest and value is not None:
        _expand(ctx, value, rest, whole)


# -- lists --------------------------------------------------------------------------------

def page(ctx: Ctx, items: list[dict], url: str) -> dict:
    """Stripe's cursor pagination over newest-first items: limit, starting_after, ending_before."""
    p = ctx.params
    limit = p.int("limit", 10)
    if not 1 <= limit <= 100:
        raise errors.invalid("Invalid limit: must be between 1 and 100", "limit")
    items = created_filter(p, items)
    ids = [o["id"] for o in items]
    after, before = p.str("starting_after"), p.str("ending_before")
    if after:
        if after not in ids:
            raise errors.no_such("object", after, "starting_after")
        chunk = items[ids.index(after) + 1:]
        data, more = chunk[:limit], len(chunk) > limit
    elif before:
        if before not in ids:
            raise errors.no_such("object", before, "ending_before")
        chunk = items[:ids.index(before)]
        data, more = chunk[-limit:], len(chunk) > limit
    else:
        data, more = items[:limit], len(items) > limit
    return {"object": "list", "data": data, "has_more": more, "url": url}


def list_of(items: list[dict], url: str) -> dict:
    """An embedded list (subscription items, invoice lines, refunds)."""
    return {"object": "list", "data": items, "has_more": False, "total_count": len(items), "url": url}


def created_filter(p: Params, items: list[dict]) -> list[dict]:
    created = p.raw("created")
    if created in (None, ""):
        return items
    if not isinstance(created, dict):
        value = p.int("created")
        return [o for o in items if o.get("created") == value]
    bounds = p.sub("created")
    tests = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}
    for op, test in tests.items():
        if bounds.given(op):
            limit = bounds.int(op)
            items = [o for o in items if test(o.get("created", 0), limit)]
    return items


def equal_filter(p: Params, items: list[dict], *keys: str) -> list[dict]:
    for key in keys:
        if p.given(key):
            want = p.raw(key)
            if isinstance(want, str) and want.lower() in ("true", "false"):
                want = want.lower() == "true"
            items = [o for o in items if o.get(key) == want]
    return items


# -- search -------------------------------------------------------------------------------

_CLAUSE = re.compile(r"""\s*(-)?([a-z_]+)(?:\[['"]([^'"]+)['"]\])?\s*(:|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|([^\s]+))\s*""")


def search(ctx: Ctx, items: list[dict], url: str) -> dict:
    """The search API's query language, its common part: field:'value' AND metadata['k']:'v', >, <, -negation."""
    query = ctx.params.str("query", required=True)
    clauses = []
    for part in re.split(r"\s+AND\s+", query.strip()):
        m = _CLAUSE.fullmatch(part)
        if not m:
            raise errors.invalid(f"We could not parse your search query: {part!r}. Try `email:'a@example.com'`.", "query")
        neg, field_, meta_key, op, v1, v2, v3 = m.groups()
        clauses.append((bool(neg), field_, meta_key, op, v1 if v1 is not None else v2 if v2 is not None else v3))
    if re.search(r"\sOR\s", query):
        raise errors.invalid("devstack's Stripe emulator supports AND queries only.", "query")

    def matches(obj: dict) -> bool:
        for neg, field_, meta_key, op, value in clauses:
            actual = (obj.get("metadata") or {}).get(meta_key) if meta_key else obj.get(field_)
            if op == ":":
                if isinstance(actual, bool):
                    actual = "true" if actual else "false"
                ok = actual is not None and (str(actual).lower() == value.lower() or
                                             (value.endswith("*") and str(actual).lower().startswith(value[:-1].lower())))
            else:
                try:
                    a, b = float(actual), float(value)
                except (TypeError, ValueError):
                    ok = False
                else:
                    ok = {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
            if ok == neg:
                return False
        return True

    limit = ctx.params.int("limit", 10)
    found = [o for o in items if matches(o)]
    start = int(ctx.params.str("page") or 0)
    data = found[start:start + limit]
    more = len(found) > start + limit
    return {"object": "search_result", "data": data, "has_more": more, "next_page": str(start + limit) if more else None,
            "total_count": len(found), "url": url}


def deleted(obj: dict) -> dict:
    return {"id": obj["id"], "object": obj["object"], "deleted": True}
