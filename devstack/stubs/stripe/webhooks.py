"""Webhook endpoints (/v1/webhook_endpoints) and events (/v1/events).

Endpoints named in devstack.yaml (`webhooks:` on the stripe service) are kept
in step with it at every start and sign with the project's STRIPE_WEBHOOK_SECRET;
endpoints an app creates through the API get their own secret, shown once.
"""
from __future__ import annotations

import copy
import secrets

from devstack.stubs.stripe import errors
from devstack.stubs.stripe.objects import Ctx, Route, deleted, new, page

MANAGED = "devstack.yaml"  # metadata[managed_by] of the endpoints the manifest names


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")


def check_url(url: str, param: str = "url") -> str:
    if not url.startswith(("http://", "https://")):
        raise errors.invalid(f"Invalid URL: {url}. URLs must begin with http:// or https://", param, "url_invalid")
    return url


def create_endpoint(ctx: Ctx) -> dict:
    p = ctx.params
    url = check_url(p.str("url", required=True))
    enabled = p.strings("enabled_events")
    if not enabled:
        raise errors.missing_param("enabled_events")
    secret = new_secret()
    endpoint = new(ctx, "webhook_endpoint", "we", {
        "api_version": p.str("api_version"), "application": None, "description": p.str("description"), "enabled_events": enabled,
        "metadata": p.metadata(), "status": "enabled", "url": url, "_secret": secret,
    })
    ctx.put(endpoint)
    return {**endpoint, "secret": secret}  # shown once, as Stripe does


def update_endpoint(ctx: Ctx, id: str) -> dict:
    endpoint = ctx.get("webhook_endpoint", id, kind="webhook_endpoint")
    p = ctx.params
    if p.given("url"):
        endpoint["url"] = check_url(p.str("url"))
    if p.given("enabled_events"):
        endpoint["enabled_events"] = p.strings("enabled_events")
    if "disabled" in p:
        endpoint["status"] = "disabled" if p.bool("disabled") else "enabled"
    p.update(endpoint, "description")
    endpoint["metadata"] = p.metadata(endpoint["metadata"])
    return ctx.put(endpoint)


def delete_endpoint(ctx: Ctx, id: str) -> dict:
    endpoint = ctx.get("webhook_endpoint", id, kind="webhook_endpoint")
    ctx.store.delete(id)
    return deleted(endpoint)


def sync_manifest(ctx: Ctx, wanted: list[dict], secret: str) -> None:
    """Make the manifest's endpoints exist as listed (url, events), and only those."""
    managed = {e["url"]: e for e in ctx.store.all("webhook_endpoint") if e["metadata"].get("managed_by") == MANAGED}
    for spec in wanted:
        endpoint = managed.pop(spec["url"], None) or new(ctx, "webhook_endpoint", "we", {
            "api_version": None, "application": None, "description": "from devstack.yaml", "metadata": {"managed_by": MANAGED},
            "status": "enabled", "url": spec["url"]})
        endpoint.update(enabled_events=list(spec.get("events") or ["*"]), _secret=secret, status="enabled")
        ctx.put(endpoint)
    for stale in managed.values():
        ctx.store.delete(stale["id"])


def secret_of(endpoint: dict, project_secret: str) -> str:
    return endpoint.get("_secret") or project_secret


# -- events -------------------------------------------------------------------------------

def list_events(ctx: Ctx) -> dict:
    p = ctx.params
    items = ctx.store.all("event")
    types = p.strings("types") or ([p.str("type")] if p.given("type") else [])
    if types:
        items = [e for e in items if any(_type_matches(t, e["type"]) for t in types)]
    if "delivery_success" in p:
        want = p.bool("delivery_success")
        items = [e for e in items if (ctx.store.pending_count(e["id"]) == 0) == want]
    return page(ctx, [_live(ctx, e) for e in items], "/v1/events")


def _type_matches(pattern: str, type_: str) -> bool:
    return pattern == type_ or (pattern.endswith(".*") and type_.startswith(pattern[:-1]))


def _live(ctx: Ctx, event: dict) -> dict:
    event = copy.copy(event)
    event["pending_webhooks"] = ctx.store.pending_count(event["id"])
    return event


ROUTES = [
    Route("POST", "/v1/webhook_endpoints", create_endpoint),
    Route("GET", "/v1/webhook_endpoints", lambda ctx: page(ctx, ctx.store.all("webhook_endpoint"), "/v1/webhook_endpoints")),
    Route("GET", "/v1/webhook_endpoints/{id}", lambda ctx, id: ctx.get("webhook_endpoint", id, kind="webhook_endpoint")),
    Route("POST", "/v1/webhook_endpoints/{id}", update_endpoint),
    Route("DELETE", "/v1/webhook_endpoints/{id}", delete_endpoint),
    Route("GET", "/v1/events", list_events),
    Route("GET", "/v1/events/{id}", lambda ctx, id: _live(ctx, ctx.get("event", id, kind="event"))),
]
