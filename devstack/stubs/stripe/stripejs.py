"""A Stripe.js stand-in served by the emulator at /v3/ (and /js/v3/).

A frontend swaps one line, `<script src="https://js.stripe.com/v3/">` for
`<script src="http://127.0.0.1:PORT/v3/">` (@stripe/stripe-js's loadStripe
uses a window.Stripe that is already there). It implements the calls apps make:
Stripe(pk), elements() with `card` / `payment` elements (plain inputs, not
iframes), redirectToCheckout, createPaymentMethod, createToken,
confirmCardPayment, confirmPayment, confirmCardSetup, confirmSetup,
handleCardAction, retrievePaymentIntent / retrieveSetupIntent. It calls the
local API with the publishable key, as Stripe.js does, and plays the card
authentication challenge in an overlay with Complete / Fail buttons.
"""
from __future__ import annotations

from aiohttp import web

SCRIPT = r"""
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  var BASE = here ? new URL(here).origin : window.location.origin;

  function encode(value, prefix, out) {
    if (value === undefined || value === null) return out;
    if (Array.isArray(value)) { value.forEach(function (v, i) { encode(v, prefix + "[" + i + "]", out); }); return out; }
    if (typeof value === "object") {
      Object.keys(value).forEach(function (k) { encode(value[k], prefix ? prefix + "[" + k + "]" : k, out); });
      return out;
    }
    out.push(encodeURIComponent(prefix) + "=" + encodeURIComponent(String(value)));
    return out;
  }

  function api(key, method, path, params) {
    var body = encode(Object.assign({}, params || {}, { key: key }), "", []).join("&");
    var url = BASE + path + (method === "GET" ? "?" + body : "");
    return fetch(url, {
      method: method,
      headers: method === "GET" ? {} : { "Content-Type": "application/x-www-form-urlencoded" },
      body: method === "GET" ? undefined : body,
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  }

  function idOf(secret) { return String(secret || "").split("_secret_")[0]; }

  function Element(type, options) {
    this.type = type; this.options = options || {}; this.handlers = {}; this.node = null;
  }
  Element.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) throw new Error("devstack Stripe.js: mount target not found: " + target);
    var box = document.createElement("div");
    box.className = "StripeElement devstack-card";
    box.innerHTML = '<input name="cardnumber" data-elements-stable-field-name="cardNumber" placeholder="Card number" inputmode="numeric" autocomplete="cc-number">' +
      '<input name="exp-date" data-elements-stable-field-name="cardExpiry" placeholder="MM / YY" autocomplete="cc-exp">' +
      '<input name="cvc" data-elements-stable-field-name="cardCvc" placeholder="CVC" autocomplete="cc-csc">';
    var self = this;
    box.addEventListener("input", function () { self.emit("change", { elementType: self.type, empty: false, complete: self.complete(), error: undefined }); });
    host.appendChild(box);
    this.node = box;
    setTimeout(function () { self.emit("ready", { elementType: self.type }); }, 0);
    return this;
  };
  Element.prototype.field = function (n) { return this.node ? this.node.querySelector('[name="' + n + '"]').value : ""; };
  Element.prototype.card = function () {
    var exp = this.field("exp-date").replace(/[^0-9]/g, " ").trim().split(/\s+/);
    if (exp.length === 1 && exp[0].length >= 4) exp = [exp[0].slice(0, 2), exp[0].slice(2)];
    return { number: this.field("cardnumber"), exp_month: exp[0] || "", exp_year: exp[1] || "", cvc: this.field("cvc") };
  };
  Element.prototype.complete = function () { var c = this.card(); return !!(c.number && c.exp_month && c.exp_year); };
  Element.prototype.on = function (name, fn) { (this.handlers[name] = this.handlers[name] || []).push(fn); return this; };
  Element.prototype.off = function (name) { delete this.handlers[name]; return this; };
  Element.prototype.emit = function (name, ev) { (this.handlers[name] || []).forEach(function (fn) { fn(ev); }); };
  Element.prototype.update = function (o) { Object.assign(this.options, o || {}); };
  Element.prototype.focus = function () { if (this.node) this.node.querySelector("input").focus(); };
  Element.prototype.blur = function () {};
  Element.prototype.clear = function () { if (this.node) this.node.querySelectorAll("input").forEach(function (i) { i.value = ""; }); };
  Element.prototype.unmount = function () { if (this.node) this.node.remove(); this.node = null; };
  Element.prototype.destroy = Element.prototype.unmount;

  function Elements(options) { this.options = options || {}; this.byType = {}; }
  Elements.prototype.create = function (type, options) { var el = new Element(type, options); this.byType[type] = el; return el; };
  Elements.prototype.getElement = function (type) { return this.byType[type] || null; };
  Elements.prototype.update = function (o) { Object.assign(this.options, o || {}); };
  Elements.prototype.submit = function () { return Promise.resolve({}); };
  Elements.prototype.fetchUpdates = function () { return Promise.resolve({}); };
  Elements.prototype.cardElement = function () { return this.byType.payment || this.byType.card || this.byType.cardNumber; };

  function challenge(intent) {
    return new Promise(function (resolve) {
      var shade = document.createElement("div");
      shade.id = "devstack-3ds";
      shade.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;z-index:2147483647";
      shade.innerHTML = '<div style="background:#fff;padding:24px;border-radius:8px;font:15px system-ui;max-width:320px;text-align:center">' +
        "<p><b>3D Secure test</b><br>Your bank asks you to confirm this payment.</p>" +
        '<button id="test-source-authorize-3ds">Complete authentication</button> <button id="test-source-fail-3ds">Fail authentication</button></div>';
      document.body.appendChild(shade);
      function answer(action) {
        var body = encode({ client_secret: intent.client_secret, action: action, mode: "json" }, "", []).join("&");
        fetch(BASE + "/authenticate/" + intent.id, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: body })
          .then(function (r) { return r.json(); })
          .then(function (j) { shade.remove(); resolve(j); });
      }
      shade.querySelector("#test-source-authorize-3ds").onclick = function () { answer("complete"); };
      shade.querySelector("#test-source-fail-3ds").onclick = function () { answer("fail"); };
    });
  }

  function Stripe(key, options) {
    if (!(this instanceof Stripe)) return new Stripe(key, options);
    if (!key || String(key).indexOf("pk_") !== 0) throw new Error("Stripe(): pass your publishable key (pk_test_...).");
    this.key = key; this.options = options || {};
  }
  Stripe.prototype.elements = function (options) { return new Elements(options); };
  Stripe.prototype.redirectToCheckout = function (o) {
    if (!o || !o.sessionId) return Promise.resolve({ error: { type: "invalid_request_error", message: "redirectToCheckout needs a sessionId." } });
    window.location.assign(BASE + "/c/pay/" + encodeURIComponent(o.sessionId));
    return new Promise(function () {});
  };
  Stripe.prototype.createPaymentMethod = function (a, b, c) {
    var data = typeof a === "string" ? Object.assign({ type: a, card: b }, c || {}) : Object.assign({}, a);
    var el = data.elements ? data.elements.cardElement() : data.card;
    var params = { type: data.type || "card", card: el && el.card ? el.card() : el, billing_details: data.billing_details || (data.params || {}).billing_details };
    return api(this.key, "POST", "/v1/payment_methods", params).then(function (r) {
      return r.ok ? { paymentMethod: r.body } : { error: r.body.error };
    });
  };
  Stripe.prototype.createToken = function (el, data) {
    return api(this.key, "POST", "/v1/tokens", { card: Object.assign(el.card(), data || {}) }).then(function (r) {
      return r.ok ? { token: r.body } : { error: r.body.error };
    });
  };
  Stripe.prototype.paymentMethod = function (value, elements) {
    if (typeof value === "string") return Promise.resolve(value);
    var el = (value && value.card) || (elements && elements.cardElement());
    if (!el) return Promise.resolve(undefined);
    var self = this;
    return this.createPaymentMethod({ type: "card", card: el, billing_details: value && value.billing_details }).then(function (r) {
      if (r.error) throw r;
      return r.paymentMethod.id;
    });
  };
  Stripe.prototype.confirm = function (kind, secret, pmValue, elements, extra) {
    var self = this;
    var name = kind === "payment_intent" ? "paymentIntent" : "setupIntent";
    return this.paymentMethod(pmValue, elements).then(function (pm) {
      var params = Object.assign({ client_secret: secret }, extra || {});
      if (pm) params.payment_method = pm;
      return api(self.key, "POST", "/v1/" + kind + "s/" + idOf(secret) + "/confirm", params);
    }).then(function (r) {
      if (!r.ok) return { error: r.body.error };
      return r.body.status === "requires_action" ? challenge(r.body) : r.body;
    }).then(function (intent) {
      if (intent.error) return intent;
      var failure = intent.last_payment_error || intent.last_setup_error;
      if (intent.status === "requires_payment_method" && failure) {
        var error = Object.assign({}, failure); error[kind] = intent; return { error: error };
      }
      var out = {}; out[name] = intent; return out;
    }).catch(function (r) { return r && r.error ? r : { error: { type: "api_connection_error", message: String(r) } }; });
  };
  Stripe.prototype.confirmCardPayment = function (secret, data) {
    data = data || {};
    return this.confirm("payment_intent", secret, data.payment_method, null, data.return_url ? { return_url: data.return_url } : null);
  };
  Stripe.prototype.confirmCardSetup = function (secret, data) {
    data = data || {};
    return this.confirm("setup_intent", secret, data.payment_method, null, null);
  };
  Stripe.prototype.redirectOrReturn = function (kind, result, params, redirect) {
    var intent = result.paymentIntent || result.setupIntent;
    if (result.error || !intent || redirect === "if_required" || !params.return_url) return result;
    var u = new URL(params.return_url, window.location.href);
    u.searchParams.set(kind, intent.id);
    u.searchParams.set(kind + "_client_secret", intent.client_secret);
    u.searchParams.set("redirect_status", intent.status === "succeeded" || intent.status === "requires_capture" ? "succeeded" : intent.status);
    window.location.assign(u.toString());
    return new Promise(function () {});
  };
  Stripe.prototype.confirmPayment = function (o) {
    var self = this, params = o.confirmParams || {};
    var secret = o.clientSecret || (o.elements && o.elements.options.clientSecret);
    var pm = params.payment_method || (params.payment_method_data ? { card: o.elements.cardElement(), billing_details: params.payment_method_data.billing_details } : undefined);
    return this.confirm("payment_intent", secret, pm, o.elements, params.return_url ? { return_url: params.return_url } : null)
      .then(function (r) { return self.redirectOrReturn("payment_intent", r, params, o.redirect); });
  };
  Stripe.prototype.confirmSetup = function (o) {
    var self = this, params = o.confirmParams || {};
    var secret = o.clientSecret || (o.elements && o.elements.options.clientSecret);
    return this.confirm("setup_intent", secret, params.payment_method, o.elements, null)
      .then(function (r) { return self.redirectOrReturn("setup_intent", r, params, o.redirect); });
  };
  Stripe.prototype.handleCardAction = function (secret) {
    return this.retrievePaymentIntent(secret).then(function (r) {
      if (r.error || r.paymentIntent.status !== "requires_action") return r;
      return challenge(r.paymentIntent).then(function (pi) { return { paymentIntent: pi }; });
    });
  };
  Stripe.prototype.handleNextAction = function (o) { return this.handleCardAction(o.clientSecret); };
  Stripe.prototype.retrieve = function (kind, name, secret) {
    return api(this.key, "GET", "/v1/" + kind + "s/" + idOf(secret), { client_secret: secret }).then(function (r) {
      var out = {}; if (r.ok) { out[name] = r.body; } else { out.error = r.body.error; } return out;
    });
  };
  Stripe.prototype.retrievePaymentIntent = function (s) { return this.retrieve("payment_intent", "paymentIntent", s); };
  Stripe.prototype.retrieveSetupIntent = function (s) { return this.retrieve("setup_intent", "setupIntent", s); };

  Stripe.version = 3;
  Stripe.devstack = true;
  window.Stripe = Stripe;
})();
"""


async def serve(request: web.Request) -> web.Response:
    return web.Response(text=SCRIPT, content_type="application/javascript", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    for path in ("/v3", "/v3/", "/js/v3", "/js/v3/"):
        app.router.add_get(path, serve)
