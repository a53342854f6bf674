// Real headless chromium (Debian's, via playwright-core) on devstack's Stripe pages.
// Env: CHROMIUM, JOBS (JSON list). Job kinds:
//   {kind: "checkout", url, card, success}         fill the hosted Checkout page, pay, wait for success_url
//   {kind: "redirect", url, card, success}         an app page whose #go calls stripe.redirectToCheckout, then as checkout
//   {kind: "elements", url, card, resultSelector}  an app page using the Stripe.js stand-in: type the card, click #pay
// A card that asks for authentication gets "Complete authentication" clicked (page or overlay).
// Prints one JSON line: [{url, text}] per job.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const jobs = JSON.parse(process.env.JOBS);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "devstack-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const results = [];
try {
  for (const job of jobs) {
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(job.url);
    if (job.kind === "redirect") {  // an app page calling stripe.redirectToCheckout({sessionId})
      await page.click("#go");
      await page.waitForURL((u) => u.pathname.startsWith("/c/pay/"));
    }
    if (job.kind === "checkout" || job.kind === "redirect") {
      await page.fill("#email", "browser@example.com");
      await page.fill("#cardNumber", job.card);
      await page.fill("#cardExpiry", "12 / 34");
      await page.fill("#cardCvc", "123");
      await page.fill("#billingName", "Browser Buyer");
      await page.click("[data-testid=hosted-payment-submit-button]");
      if (job.authenticate) {
        await page.click("#test-source-authorize-3ds");
      }
      try {
        await page.waitForURL((u) => u.toString().startsWith(job.success));
      } catch (err) {
        throw new Error(`${err.message}\nat ${page.url()}:\n${(await page.textContent("body")).slice(0, 600)}`);
      }
      results.push({ url: page.url(), text: await page.textContent("body") });
    } else {
      await page.fill("[name=cardnumber]", job.card);
      await page.fill("[name=exp-date]", "12 / 34");
      await page.fill("[name=cvc]", "123");
      await page.click("#pay");
      if (job.authenticate) {
        await page.click("#devstack-3ds #test-source-authorize-3ds");
      }
      await page.waitForSelector(`${job.resultSelector}:not(:empty)`);
      results.push({ url: page.url(), text: await page.textContent(job.resultSelector) });
    }
    await page.close();
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
