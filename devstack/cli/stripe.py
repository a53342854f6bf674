"""`devstack stripe ...`: drive the running Stripe emulator, in Stripe CLI's words.

Every command talks to the emulator over HTTP (its /_devstack/stripe/ routes,
authenticated with the project's secret key), never to its files: the
emulator owns its state and sends the webhooks.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import click

from devstack.cli.app import info
from devstack.errors import UserError

ADMIN = "/_devstack/stripe"
SERVICE = "devstack.stripe.service"  # ctx.meta key: the group's --service, for its subcommands


class Emulator:
    """The running emulator of one stripe service of the plan."""

    def __init__(self, app, service: str | None):
        plan = app.plan(persist=False)  # reads the stack's plan, writes nothing
        stripes = [s for s in plan.services.values() if s.kind.name == "stripe"]
        if service:
            svc = plan.services.get(service)
            if svc is None or svc.kind.name != "stripe":
                names = ", ".join(s.name for s in stripes) or "none"
                raise UserError(f"no stripe service `{service}` in {plan.manifest_path.name}", f"stripe services: {names}")
        elif len(stripes) == 1:
            svc = stripes[0]
        elif not stripes:
            raise UserError(f"{plan.manifest_path.name} has no stripe service", "add one: `services: {stripe: {}}`")
        else:
            raise UserError("more than one stripe service", "pick one with `devstack stripe --service NAME ...`: " + ", ".join(s.name for s in stripes))
        if not svc.runs or svc.outputs.get("implementation") != "emulator":
            why = f"mode: {svc.mode}" if not svc.runs else "implementation: stripe-mock"
            raise UserError(f"{svc.name} is not devstack's Stripe emulator ({why})",
                            "these commands need the emulator: remove `implementation: stripe-mock` / set `mode: run`")
        self.name, self.base, self.key = svc.name, svc.outputs["api_base"], svc.outputs["secret_key"]

    def request(self, method: str, path: str, body: dict | None = None, query: dict | None = None, timeout: float = 60):
        url = self.base + ADMIN + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        try:
            return urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", {}).get("message")
            except ValueError:
                message = None
            raise UserError(f"{self.name}: {message or f'HTTP {exc.code}'}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise UserError(f"{self.name}: the Stripe emulator does not answer at {self.base} ({getattr(exc, 'reason', exc)})",
                            "start the stack: `devstack up` (then `devstack status`)") from None

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None) -> dict:
        with self.request(method, path, body, query) as resp:
            return json.loads(resp.read())


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


@click.group(help="Drive the local Stripe emulator: trigger events, forward them, inspect deliveries, move its clock.")
@click.option("--service", metavar="NAME", help="The stripe service (when the manifest has more than one).")
@click.pass_context
def stripe(ctx, service):
    ctx.meta[SERVICE] = service


def connect(app) -> Emulator:
    return Emulator(app, click.get_current_context().meta.get(SERVICE))


@stripe.command(help="Create the objects that make EVENT happen (as Stripe CLI's trigger does); the event is delivered to the app.")
@click.argument("event")
@click.option("--override", "overrides", multiple=True, metavar="[RESOURCE:]PATH=VALUE",
              help="Change a parameter of an object made, e.g. payment_intent:amount=500 or customer:metadata.user_id=7. Repeatable.")
@click.pass_obj
def trigger(app, event, overrides):
    emu = connect(app)
    info(f"Setting up fixture for: {event}")
    out = emu.call("POST", "/trigger", {"event": event, "overrides": list(overrides)})
    for made in out["events"]:
        click.echo(f"{made['id']}  {made['type']}")
    info(f"Trigger succeeded: {len(out['events'])} events ({', '.join(f'{k} {v}' for k, v in out['objects'].items())})")


@stripe.command(help="Forward every new event to URL (signed with STRIPE_WEBHOOK_SECRET) and print the app's answers, until Ctrl-C.")
@click.option("--forward-to", "-f", "url", required=True, metavar="URL", help="e.g. http://localhost:3000/billing/webhook")
@click.option("--events", "-e", metavar="TYPES", default="", help="Comma-separated event types to forward (default: all).")
@click.pass_obj
def listen(app, url, events):
    emu = connect(app)
    query = {"forward_to": url, **({"events": events} if events else {})}
    try:
        with emu.request("GET", "/listen", query=query, timeout=60) as resp:
            for raw in resp:
                line = raw.strip()
                if not line:
                    continue
                msg = json.loads(line)
                if msg.get("ready"):
                    info(f"Ready! Forwarding {events or 'all events'} to {url} (signed with {emu.name}'s webhook_secret). Ctrl-C to stop.")
                    continue
                answer = f"[{msg['status']}]" if msg.get("status") else f"[failed: {msg.get('error')}]"
                click.echo(f"{when(time.time())}   --> {msg['type']} [{msg['id']}]")
                click.echo(f"{when(time.time())}  <--  {answer} POST {url} [{msg['id']}]")
                sys.stdout.flush()
    except KeyboardInterrupt:
        return
    except (OSError, ValueError) as exc:
        raise UserError(f"{emu.name}: the event stream ended ({exc})", "is the stack still up? `devstack status`") from None


@stripe.command(help="Recent events, each with its webhook deliveries and their attempts.")
@click.option("--json", "as_json", is_flag=True, help="Print the events and attempts as JSON.")
@click.option("--limit", "-n", default=20, show_default=True, help="How many events (newest first).")
@click.option("--type", "type_", metavar="TYPE", help="Only events of this type.")
@click.pass_obj
def events(app, as_json, limit, type_):
    out = connect(app).call("GET", "/events", query={"limit": limit, **({"type": type_} if type_ else {})})
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    if not out["endpoints"]:
        info("no webhook endpoint: name the app's in devstack.yaml (webhooks: [{url: ...}]) or use `devstack stripe listen`")
    for event in out["data"]:
        head = f"{event['id']}  {when(event['created'])}  {event['type']:<38}"
        if not event["deliveries"]:
            click.echo(f"{head} (no endpoint wanted it)")
        for i, d in enumerate(event["deliveries"]):
            click.echo(f"{head if i == 0 else ' ' * len(head)} {describe(d)}")


def describe(d: dict) -> str:
    tries = d["history"]
    last = tries[-1] if tries else None
    said = (f"{last['status']}" if last and last["status"] else (last or {}).get("error") or "") if last else ""
    target = "listen " + d["url"] if d["endpoint"] == "listen" else d["url"]
    if d["state"] == "delivered":
        extra = f" after {len(tries)} attempts" if len(tries) > 1 else ""
        return f"delivered {said}{extra} -> {target}"
    if d["state"] == "pending":
        if not tries:
            return f"queued -> {target}"
        wait = max(0, int((d["next_attempt_at"] or time.time()) - time.time()))
        return f"retrying ({len(tries)} failed: {said}; next in {wait}s) -> {target}"
    return f"failed after {len(tries)} attempts ({said}) -> {target}"


@stripe.command(help="Send EVENT_ID again to the endpoints that want it (or to one, --webhook-endpoint).")
@click.argument("event_id")
@click.option("--webhook-endpoint", "endpoint", metavar="WE_ID", help="Only this endpoint (we_...).")
@click.pass_obj
def resend(app, event_id, endpoint):
    out = connect(app).call("POST", f"/events/{urllib.parse.quote(event_id)}/resend", {"endpoint": endpoint} if endpoint else {})
    if not out["endpoints"]:
        raise UserError(f"no webhook endpoint wants {event_id}", "name the app's in devstack.yaml: webhooks: [{url: ...}]")
    info(f"{event_id} queued for {', '.join(out['endpoints'])}")


@stripe.group(help="Complete or expire a Checkout Session without the browser.")
def checkout():
    pass


@checkout.command("complete", help="Pay SESSION_ID as the customer would on the hosted page (default card 4242 4242 4242 4242).")
@click.argument("session_id")
@click.option("--card", default="4242424242424242", show_default=True, help="Test card number (4000000000000002 declines).")
@click.option("--email", help="The customer's email (default: the session's, else customer@example.com).")
@click.pass_obj
def checkout_complete(app, session_id, card, email):
    out = connect(app).call("POST", f"/checkout/{urllib.parse.quote(session_id)}/complete", {"card": card, **({"email": email} if email else {})})
    session = out["session"]
    info(f"{session_id}: {session['status']} ({session['payment_status']}); events: {', '.join(out['events']) or 'none'}")
    if out.get("redirect"):
        click.echo(out["redirect"])


@checkout.command("expire", help="Expire SESSION_ID (checkout.session.expired).")
@click.argument("session_id")
@click.pass_obj
def checkout_expire(app, session_id):
    out = connect(app).call("POST", f"/checkout/{urllib.parse.quote(session_id)}/expire")
    info(f"{session_id}: {out['session']['status']}")


@stripe.command(help="Move the emulator's clock forward (31d, 12h, 1w...): renewals, trial ends and retries due meanwhile happen now.")
@click.argument("duration")
@click.pass_obj
def advance(app, duration):
    out = connect(app).call("POST", "/clock/advance", {"by": duration})
    for made in out["events"]:
        click.echo(f"{made['id']}  {made['type']}")
    info(f"clock now {when(out['now'])} ({out['offset'] / 86400:.1f} days ahead); {len(out['events'])} events")
