"""The pages a person sees: hosted Checkout (/c/pay/ID), the billing portal (/p/session/ID),
the card authentication challenge (/authenticate/ID) and hosted invoices (/invoices/ID).

Plain HTML forms: they work with JavaScript off, in any browser and from a test
with an HTTP client. The field names follow Stripe Checkout's (email,
cardNumber, cardExpiry, cardCvc, billingName).
"""
from __future__ import annotations

import html
import time
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from aiohttp import web

from devstack.stubs.stripe import checkout, payments, portal
from devstack.stubs.stripe.api import EMU
from devstack.stubs.stripe.forms import Params

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f8fa;color:#1a1f36;margin:0}
main{max-width:440px;margin:40px auto;background:#fff;border-radius:10px;box-shadow:0 2px 12px #0002;padding:28px}
h1{font-size:20px;margin:0 0 4px}.muted{color:#697386;font-size:13px}.banner{background:#ffd86b;color:#3d2c00;font-size:12px;
text-align:center;padding:4px}label{display:block;margin:14px 0 4px;font-size:13px;color:#3c4257}
input{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #cfd7df;border-radius:6px;font-size:15px}
.row{display:flex;gap:10px}.row>div{flex:1}button{margin-top:20px;width:100%;padding:11px;border:0;border-radius:6px;
background:#635bff;color:#fff;font-size:16px;cursor:pointer}button.secondary{background:#e3e8ee;color:#1a1f36}
.error{background:#fde8e8;color:#a41c1c;padding:10px;border-radius:6px;margin-top:14px}table{width:100%;border-collapse:collapse}
td{padding:6px 0;border-bottom:1px solid #eef1f4}td.amt{text-align:right}.total td{font-weight:600;border:0}
a{color:#635bff}section{margin-top:22px}
"""


def money(amount: int | None, currency: str | None) -> str:
    if amount is None:
        return ""
    cur = (currency or "usd").upper()
    return f"${amount / 100:,.2f}" if cur == "USD" else f"{amount / 100:,.2f} {cur}"


def layout(title: str, body: str, status: int = 200) -> web.Response:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<div class=banner>TEST MODE · devstack's local Stripe</div><main>{body}</main></body></html>")
    return web.Response(status=status, text=text, content_type="text/html")


def e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def card_fields(prefix_note: str = "") -> str:
    return ("<label for=cardNumber>Card information</label>"
            "<input id=cardNumber name=cardNumber inputmode=numeric autocomplete=cc-number placeholder='1234 1234 1234 1234' required>"
            "<div class=row><div><input id=cardExpiry name=cardExpiry autocomplete=cc-exp placeholder='MM / YY' required></div>"
            "<div><input id=cardCvc name=cardCvc autocomplete=cc-csc placeholder=CVC required></div></div>"
            f"<p class=muted>{prefix_note}Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, "
            "4000 0027 6000 3184 asks for authentication. Any future date, any CVC.</p>")


def card_params(form) -> Params:
    expiry = "".join(ch if ch.isdigit() else " " for ch in form.get("cardExpiry", "")).split()
    month, year = (expiry + ["", ""])[:2] if len(expiry) >= 2 else (expiry[0][:2], expiry[0][2:]) if expiry else ("", "")
    return Params({"number": form.get("cardNumber", ""), "exp_month": month, "exp_year": year, "cvc": form.get("cardCvc", "")}, "card")


# -- checkout -----------------------------------------------------------------------------

def checkout_page(emu, session: dict, error: str | None = None) -> web.Response:
    items = session["_line_items"]["data"]
    rows = "".join(f"<tr><td>{e(i['description'])}{' × ' + str(i['quantity']) if i['quantity'] > 1 else ''}"
                   f"{' <span class=muted>/ ' + e(i['price']['recurring']['interval']) + '</span>' if i['price']['recurring'] else ''}</td>"
                   f"<td class=amt>{money(i['amount_total'], i['currency'])}</td></tr>" for i in items)
    total = session["amount_total"]
    table = f"<table>{rows}<tr class=total><td>Total due today</td><td class=amt>{money(total, session['currency'])}</td></tr></table>" if items else ""
    verb = {"payment": f"Pay {money(total, session['currency'])}", "subscription": "Subscribe", "setup": "Save card"}[session["mode"]]
    email = session.get("customer_email") or (emu.store.get(session["customer"] or "", "customer") or {}).get("email") or ""
    back = f"<p><a id=cancel href='{e(session['cancel_url'])}'>← Back</a></p>" if session.get("cancel_url") else ""
    body = (f"{back}<h1>{'Set up a card' if session['mode'] == 'setup' else 'Checkout'}</h1><p class=muted>{e(session['id'])}</p>{table}"
            f"<form method=post action='/c/pay/{e(session['id'])}'>"
            f"<label for=email>Email</label><input id=email name=email type=email value='{e(email)}' required>"
            f"{card_fields()}<label for=billingName>Name on card</label><input id=billingName name=billingName autocomplete=cc-name>"
            + (f"<div class=error role=alert>{e(error)}</div>" if error else "") +
            f"<button type=submit class=SubmitButton data-testid=hosted-payment-submit-button>{e(verb)}</button></form>")
    return layout("Checkout", body, 402 if error else 200)


def session_state_page(session: dict) -> web.Response:
    if session["status"] == "complete":
        target = checkout.success_redirect(session)
        if target:
            raise web.HTTPSeeOther(target)
        return layout("Complete", "<h1>Thanks!</h1><p>This Checkout Session is complete.</p>")
    back = f"<p><a href='{e(session['cancel_url'])}'>Return</a></p>" if session.get("cancel_url") else ""
    return layout("Expired", f"<h1>This Checkout Session has expired</h1>{back}", 410)


async def checkout_get(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    session = emu.store.get(request.match_info["id"], "checkout.session")
    if session is None:
        return layout("Not found", "<h1>Something went wrong</h1><p>The page you were looking for could not be found.</p>", 404)
    if session["status"] != "open":
        return session_state_page(session)
    return checkout_page(emu, session)


async def checkout_post(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    session = emu.store.get(request.match_info["id"], "checkout.session")
    if session is None:
        raise web.HTTPNotFound()
    if session["status"] != "open":
        return session_state_page(session)
    form = await request.post()

    def attempt(ctx):
        fresh = ctx.get("checkout.session", session["id"])
        try:
            return checkout.complete(ctx, fresh, card=card_params(form), email=form.get("email") or None, name=form.get("billingName") or None)
        except checkout.NeedsAuthentication as needs:
            return needs.intent

    done = emu.run(attempt)
    if done.error is not None:
        return checkout_page(emu, emu.store.get(session["id"]), done.error.message)
    result = done.result
    if result["object"] != "checkout.session":  # go through the bank's challenge, come back to /return
        raise web.HTTPSeeOther(with_query(f"/authenticate/{result['id']}", client_secret=result["client_secret"],
                                          return_url=f"{emu.public_url}/c/pay/{session['id']}/return"))
    return finished(emu, result)


def finished(emu, session: dict) -> web.Response:
    if session["status"] == "complete":
        return session_state_page(session)
    return checkout_page(emu, session, "We are unable to authenticate your payment method. Please choose a different payment method and try again.")


async def checkout_return(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    session = emu.store.get(request.match_info["id"], "checkout.session")
    if session is None:
        raise web.HTTPNotFound()
    done = emu.run(lambda ctx: checkout.finish(ctx, session))
    return finished(emu, done.result or emu.store.get(session["id"]))


# -- authentication challenge -------------------------------------------------------------

def find_intent(emu, id_: str, secret: str | None) -> dict | None:
    intent = emu.store.get(id_)
    if not intent or intent.get("object") not in ("payment_intent", "setup_intent") or intent.get("client_secret") != secret:
        return None
    return intent


async def authenticate_get(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    intent = find_intent(emu, request.match_info["id"], request.query.get("client_secret"))
    if intent is None:
        return layout("Not found", "<h1>Unknown authentication request</h1>", 404)
    amount = money(intent.get("amount"), intent.get("currency")) if intent["object"] == "payment_intent" else "card setup"
    hidden = "".join(f"<input type=hidden name={k} value='{e(request.query.get(k, ''))}'>" for k in ("client_secret", "return_url"))
    body = (f"<h1>3D Secure test page</h1><p class=muted>Your bank asks you to confirm this {e(amount)}.</p>"
            f"<form method=post>{hidden}<button id=test-source-authorize-3ds name=action value=complete>Complete authentication</button>"
            f"<button id=test-source-fail-3ds class=secondary name=action value=fail>Fail authentication</button></form>")
    return layout("Authenticate", body)


async def authenticate_post(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    form = await request.post()
    intent = find_intent(emu, request.match_info["id"], form.get("client_secret"))
    if intent is None:
        raise web.HTTPNotFound()
    ok = form.get("action") == "complete"
    result = emu.run(lambda ctx: payments.authenticated(ctx, ctx.get(intent["object"], intent["id"]), ok)).result
    result = result or emu.store.get(intent["id"])
    if request.query.get("mode") == "json" or form.get("mode") == "json":  # the Stripe.js stand-in
        from devstack.stubs.stripe.objects import render

        return web.json_response(render(result))
    return_url = form.get("return_url")
    if return_url:
        name = intent["object"]
        status = "succeeded" if result["status"] in ("succeeded", "requires_capture") else "failed"
        raise web.HTTPSeeOther(with_query(return_url, **{name: intent["id"], f"{name}_client_secret": intent["client_secret"],
                                                         "redirect_status": status}))
    return layout("Done", f"<h1>Authentication {'completed' if ok else 'failed'}</h1><p>You can close this page.</p>")


# -- billing portal -----------------------------------------------------------------------

def portal_page(emu, session: dict, note: str | None = None, error: str | None = None) -> web.Response:
    store = emu.store
    customer = store.get(session["customer"], "customer") or {}
    pm = store.get((customer.get("invoice_settings") or {}).get("default_payment_method") or "", "payment_method")
    subs = [s for s in store.find("subscription", customer=session["customer"]) if s["status"] not in ("canceled", "incomplete_expired")]
    parts = [f"<h1>{e(customer.get('name') or customer.get('email') or 'Your account')}</h1><p class=muted>{e(customer.get('email'))}</p>"]
    if session.get("return_url"):
        parts.insert(0, f"<p><a id=return href='{e(session['return_url'])}'>← Return</a></p>")
    if note:
        parts.append(f"<p class=muted role=status>{e(note)}</p>")
    if error:
        parts.append(f"<div class=error role=alert>{e(error)}</div>")
    parts.append("<section><h2>Current plan</h2>")
    if not subs:
        parts.append("<p class=muted>No active subscriptions.</p>")
    for sub in subs:
        names = ", ".join((store.get(i["price"]["product"], "product") or {}).get("name") or i["price"]["product"] for i in sub["items"]["data"])
        price = sub["items"]["data"][0]["price"]
        ends = time.strftime("%B %d, %Y", time.gmtime(sub["current_period_end"]))
        state = f"Cancels {ends}" if sub["cancel_at_period_end"] else f"Renews {ends}"
        action = ("renew", "Renew plan") if sub["cancel_at_period_end"] else ("cancel", "Cancel plan")
        parts.append(f"<div class=subscription data-id='{e(sub['id'])}'><p><b>{e(names)}</b> · {money(price['unit_amount'], price['currency'])}"
                     f" / {e(price['recurring']['interval'])}<br><span class=muted>{e(sub['status'])} · {state}</span></p>"
                     f"<form method=post><input type=hidden name=subscription value='{e(sub['id'])}'>"
                     f"<button name=action value={action[0]} class='{'secondary' if action[0] == 'cancel' else ''}'"
                     f" data-testid={action[0]}-subscription>{action[1]}</button></form></div>")
    parts.append("</section><section><h2>Payment method</h2>")
    parts.append(f"<p>{e(pm['card']['brand'].title())} •••• {e(pm['card']['last4'])}</p>" if pm else "<p class=muted>None on file.</p>")
    parts.append(f"<form method=post><input type=hidden name=action value=update_card>{card_fields()}"
                 "<button data-testid=update-card>Update card</button></form></section>")
    invoices = store.find("invoice", customer=session["customer"])[:10]
    if invoices:
        rows = "".join(f"<tr><td>{time.strftime('%b %d, %Y', time.gmtime(i['created']))}</td><td>{e(i['status'])}</td>"
                       f"<td class=amt>{money(i['amount_due'], i['currency'])}</td></tr>" for i in invoices)
        parts.append(f"<section><h2>Invoice history</h2><table>{rows}</table></section>")
    return layout("Billing", "".join(parts), 402 if error else 200)


async def portal_get(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    session = emu.store.get(request.match_info["id"], "billing_portal.session")
    if session is None:
        return layout("Not found", "<h1>This link has expired</h1>", 404)
    return portal_page(emu, session)


async def portal_post(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    session = emu.store.get(request.match_info["id"], "billing_portal.session")
    if session is None:
        raise web.HTTPNotFound()
    form = await request.post()
    action = form.get("action")
    sub_id = form.get("subscription", "")
    actions = {
        "cancel": (lambda ctx: portal.cancel(ctx, session, sub_id, form.get("reason") or None), "Your plan will be canceled at the end of the period."),
        "renew": (lambda ctx: portal.renew(ctx, session, sub_id), "Your plan will renew."),
        "update_card": (lambda ctx: portal.update_card(ctx, session, card_params(form)), "Your card was updated."),
    }
    if action not in actions:
        return portal_page(emu, session, error=f"Unknown action {action!r}.")
    fn, note = actions[action]
    error = emu.run(fn).error
    if error is not None:
        return portal_page(emu, session, error=error.message)
    after = ((session.get("flow") or {}).get("after_completion") or {})
    if after.get("type") == "redirect" and (after.get("redirect") or {}).get("return_url"):
        raise web.HTTPSeeOther(after["redirect"]["return_url"])
    return portal_page(emu, session, note=note)


# -- hosted invoice -----------------------------------------------------------------------

async def invoice_get(request: web.Request) -> web.Response:
    emu = request.app[EMU]
    invoice = emu.store.get(request.match_info["id"], "invoice")
    if invoice is None:
        return layout("Not found", "<h1>Invoice not found</h1>", 404)
    rows = "".join(f"<tr><td>{e(line['description'])}</td><td class=amt>{money(line['amount'], line['currency'])}</td></tr>"
                   for line in invoice["lines"]["data"])
    body = (f"<h1>Invoice {e(invoice['number'] or invoice['id'])}</h1><p class=muted>{e(invoice['status'])}</p>"
            f"<table>{rows}<tr class=total><td>Amount due</td><td class=amt>{money(invoice['amount_remaining'], invoice['currency'])}</td></tr></table>")
    return layout("Invoice", body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/c/pay/{id}", checkout_get)
    app.router.add_post("/c/pay/{id}", checkout_post)
    app.router.add_get("/c/pay/{id}/return", checkout_return)
    app.router.add_get("/authenticate/{id}", authenticate_get)
    app.router.add_post("/authenticate/{id}", authenticate_post)
    app.router.add_get("/p/session/{id}", portal_get)
    app.router.add_post("/p/session/{id}", portal_post)
    app.router.add_get("/invoices/{id}", invoice_get)

