// The seed apps' billing flows with stripe-node against devstack's Stripe emulator.
// Env: STRIPE_API_BASE, STRIPE_SECRET_KEY. Prints one JSON line with what it saw; exits 1 on a failed check.
// Its webhook receiver verifies every delivery with stripe.webhooks.constructEvent, under the secret the
// endpoint got at creation (and checks a wrong secret is refused).
import http from "node:http";
import Stripe from "stripe";

const base = new URL(process.env.STRIPE_API_BASE);
const key = process.env.STRIPE_SECRET_KEY;
const stripe = new Stripe(key, { host: base.hostname, port: Number(base.port), protocol: "http", maxNetworkRetries: 0 });

function check(ok, what) {
  if (!ok) throw new Error("check failed: " + what);
}

// -- webhook receiver -------------------------------------------------------------------
const events = [];
let secret = null;
let refusedWrongSecret = 0;
const bad = [];
const waiters = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const raw = Buffer.concat(chunks);
    if (req.method === "GET") { res.writeHead(200); res.end("landed " + req.url); return; }
    let event;
    try {
      event = stripe.webhooks.constructEvent(raw, req.headers["stripe-signature"], secret);
    } catch (err) {
      bad.push(String(err.message)); res.writeHead(400); res.end(); return;
    }
    try {
      stripe.webhooks.constructEvent(raw, req.headers["stripe-signature"], "whsec_wrong");
    } catch (err) {
      if (err.type === "StripeSignatureVerificationError") refusedWrongSecret += 1;
    }
    events.push(event);
    waiters.splice(0).forEach((w) => w());
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end('{"received":true}');
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const here = `http://127.0.0.1:${receiver.address().port}`;

async function waitFor(type, where = () => true, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = events.find((e) => e.type === type && where(e.data.object));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${type} within ${ms}ms; got ${events.map((e) => e.type).join(", ")}`);
    await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 250); });
  }
}

async function submit(url, fields) {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
  return { status: res.status, location: res.headers.get("location"), body: await res.text() };
}

async function advance(by) {
  const res = await fetch(`${process.env.STRIPE_API_BASE}/_devstack/stripe/clock/advance`, {
    method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: JSON.stringify({ by }),
  });
  check(res.ok, "advance " + by);
  return res.json();
}

const card = (number) => ({ cardNumber: number, cardExpiry: "12 / 34", cardCvc: "123", email: "node@railgun.dev" });
const steps = [];

const endpoint = await stripe.webhookEndpoints.create({ url: `${here}/hooks`, enabled_events: ["*"], description: "stripe-node test" });
secret = endpoint.secret;
check(secret && secret.startsWith("whsec_"), "endpoint secret shown at creation");
check((await stripe.webhookEndpoints.retrieve(endpoint.id)).secret === undefined, "secret not shown again");

try {
  // Rail Gun: Pro through Checkout, a failed renewal after a month, cancellation in the portal.
  const [pro] = (await stripe.prices.list({ lookup_keys: ["railgun_pro_monthly"], expand: ["data.product"] })).data;
  check(pro.id === "price_railgun_pro_monthly" && pro.product.name === "Rail Gun Pro", "seeded price found by lookup key");
  const session = await stripe.checkout.sessions.create({
    mode: "subscription", line_items: [{ price: pro.id, quantity: 1 }], customer_email: "node@railgun.dev",
    success_url: `${here}/billing/success?session_id={CHECKOUT_SESSION_ID}`, cancel_url: `${here}/billing`,
    subscription_data: { metadata: { railgun_user_id: "99" } },
  });
  const paid = await submit(session.url, card("4242424242424242"));
  check(paid.status === 303 && paid.location === `${here}/billing/success?session_id=${session.id}`, "checkout redirects to success_url");
  const completed = (await waitFor("checkout.session.completed", (s) => s.id === session.id)).data.object;
  const subId = completed.subscription;
  await waitFor("customer.subscription.created", (s) => s.id === subId && s.status === "active");
  await waitFor("invoice.paid", (i) => i.subscription === subId && i.amount_paid === 499);
  await waitFor("invoice.payment_succeeded", (i) => i.subscription === subId);
  const sub = await stripe.subscriptions.retrieve(subId);
  check(sub.metadata.railgun_user_id === "99" && sub.customer === completed.customer, "subscription_data carried over");
  steps.push("railgun checkout");

  const portal = await stripe.billingPortal.sessions.create({ customer: completed.customer, return_url: `${here}/settings` });
  const changed = await submit(portal.url, { action: "update_card", ...card("4000000000000341") });
  check(changed.status === 200, "portal card update");
  const renewal = await advance("31d");
  check(renewal.events.some((e) => e.type === "invoice.payment_failed"), "advance reports the failed renewal");
  const failed = (await waitFor("invoice.payment_failed", (i) => i.subscription === subId)).data.object;
  check(failed.billing_reason === "subscription_cycle", "renewal invoice failed");
  check((await stripe.subscriptions.retrieve(subId)).status === "past_due", "past_due after the failed renewal");
  steps.push("railgun failed renewal");

  const cancel = await submit(portal.url, { action: "cancel", subscription: subId });
  check(cancel.status === 200, "portal cancel");
  await waitFor("customer.subscription.updated", (s) => s.id === subId && s.cancel_at_period_end === true);
  await advance("31d");
  await waitFor("customer.subscription.deleted", (s) => s.id === subId && s.status === "canceled");
  steps.push("railgun portal cancel");

  // Drone School: a PaymentIntent confirmed server-side, the app told by payment_intent.succeeded.
  const student = await stripe.customers.create({ email: "node-pilot@droneschool.test" });
  const intent = await stripe.paymentIntents.create({ amount: 24900, currency: "usd", customer: student.id, metadata: { enrollment_id: "9" } });
  const confirmed = await stripe.paymentIntents.confirm(intent.id, { payment_method: "pm_card_visa" });
  check(confirmed.status === "succeeded", "payment intent confirmed");
  await waitFor("payment_intent.succeeded", (pi) => pi.id === intent.id && pi.metadata.enrollment_id === "9");
  let declined = null;
  try {
    await stripe.paymentIntents.create({ amount: 500, currency: "usd", payment_method: "pm_card_chargeDeclined", confirm: true });
  } catch (err) {
    declined = err;
  }
  check(declined && declined.type === "StripeCardError" && declined.code === "card_declined" && declined.statusCode === 402, "decline is a StripeCardError");
  await waitFor("payment_intent.payment_failed", (pi) => pi.id === declined.raw.payment_intent.id);
  steps.push("drone school payment intent");

  // A $0.01 one-time Checkout payment confirmed by payment_intent.succeeded.
  const cent = await stripe.checkout.sessions.create({
    mode: "payment", success_url: `${here}/done?cs={CHECKOUT_SESSION_ID}`,
    line_items: [{ price_data: { currency: "usd", unit_amount: 1, product_data: { name: "One cent" } }, quantity: 1 }],
  });
  const centPaid = await submit(cent.url, card("4242424242424242"));
  check(centPaid.status === 303 && centPaid.location.endsWith(`cs=${cent.id}`), "one-cent checkout redirect");
  const centIntent = (await waitFor("payment_intent.succeeded", (pi) => pi.amount === 1)).data.object;
  const centDone = (await waitFor("checkout.session.completed", (s) => s.id === cent.id)).data.object;
  check(centDone.payment_intent === centIntent.id && centDone.amount_total === 1, "one-cent session paid");
  steps.push("one cent checkout");

  let refused = null;
  try {
    await new Stripe("sk_test_notthekey", { host: base.hostname, port: Number(base.port), protocol: "http", maxNetworkRetries: 0 }).customers.list();
  } catch (err) {
    refused = err;
  }
  check(refused && refused.type === "StripeAuthenticationError" && refused.statusCode === 401, "wrong key is a 401");
  steps.push("wrong key");
} finally {
  await stripe.webhookEndpoints.del(endpoint.id);
  receiver.close();
}

console.log(JSON.stringify({ steps, events: events.map((e) => e.type), verified: events.length, refusedWrongSecret, bad }));
