"""Events: Stripe's envelope for every state change, queued for each endpoint that wants it.

An event is stored (and its deliveries queued) in the same transaction as the
change it reports, so a change and its webhooks are never half there.
"""
from __future__ import annotations

import copy
import time

from devstack.stubs.stripe.objects import Ctx, diff, render
from devstack.stubs.stripe.store import new_id

DEFAULT_API_VERSION = "2024-06-20"


def wants(enabled: list[str], type_: str) -> bool:
    return "*" in enabled or type_ in enabled


def emit(ctx: Ctx, type_: str, obj: dict, previous: dict | None = None) -> dict:
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
