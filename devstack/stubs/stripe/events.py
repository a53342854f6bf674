"""Events: Stripe's envelope for every state change, queued for each endpoint that wants it.

An event is stored (and its deliveries queued) in the same transaction as the
change it reports, so a change and its webhooks are never half there.
"""
from __future__ import annotations

import copy
import time

from devstack.stubs.stripe.store import new_id

DEFAULT_API_VERSION = "2024-06-20"


def render(value):
    """The object as the API shows it: the emulator's own `_` fields removed."""
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


def diff(old: dict, new_: dict) -> dict:
    """data.previous_attributes: the old values of what changed (nested hashes: only their changed keys)."""
    out = {}
    for key in set(old) | set(new_):
        if key.startswith("_") or key in ("updated",):
            continue
        before, after = old.get(key), new_.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and before.get("object") != "list":
            out[key] = diff(before, after)
        else:
            out[key] = copy.deepcopy(before)
    return out


def wants(enabled: list[str], type_: str) -> bool:
    return "*" in enabled or type_ in enabled


def emit(ctx, type_: str, obj: dict, previous: dict | None = None) -> dict:
    """ctx: the call's objects.Ctx (its store, time, request and event list)."""
    store = ctx.store
    data = {"object": render(copy.deepcopy(obj))}
    if previous is not None and type_.endswith(".updated"):  # only updates carry the old values
        data["previous_attributes"] = render(diff(previous, obj))
    endpoints = [e for e in store.all("webhook_endpoint") if e.get("status") == "enabled" and wants(e.get("enabled_events") or [], type_)]
    event = {
        "id": new_id("evt"), "object": "event", "api_version": ctx.emu.api_version(), "created": ctx.now, "data": data,
        "livemode": False, "pending_webhooks": len(endpoints), "request": dict(ctx.request), "type": type_,
    }
    store.put(event)
    wall = time.time()
    for endpoint in endpoints:
        store.add_delivery(event["id"], endpoint["id"], endpoint["url"], wall)
    ctx.events.append(event)
    return event
