"""Stripe API: devstack's emulator (stateful, webhooks) on this machine; `implementation: stripe-mock` for shape checks."""

from __future__ import annotations

import json

from devstack.services.base import Kind, Option, Port

IMPLEMENTATIONS = ("emulator", "stripe-mock")
WEBHOOK_KEYS = ("url", "events")


class Stripe(Kind):
    name = "stripe"
    summary = "Stripe API emulator: Checkout, subscriptions, billing portal, signed webhooks"
    modes = ("run", "stub", "off", "external")
    standin_when_no_binary = True
    options = {
        "implementation": Option(str, "emulator", "emulator (devstack's, stateful, sends webhooks) or stripe-mock (stateless API-shape checks)",
                                 choices=IMPLEMENTATIONS),
        "image": Option(str, "stripe/stripe-mock:v0.192.0", "stripe-mock image (implementation: stripe-mock)"),
        # stripe-mock accepts only keys of exactly three `_`-separated parts; the generated ones are.
        "secret_key": Option(str, None, "test secret key (sk_test_...); generated when unset", generate="stripe:sk_test"),
        "publishable_key": Option(str, None, "test publishable key (pk_test_...); generated when unset", generate="stripe:pk_test"),
        "webhook_secret": Option(str, None, "webhook signing secret (whsec_...); generated when unset", generate="stripe:whsec"),
        "webhooks": Option(list, [], "the app's webhook endpoints: [{url: http://localhost:3000/billing/webhook, events: [...]}]"),
        "bin": Option(str, None, "path of a stripe-mock binary for the native runtime (implementation: stripe-mock)"),
    }
    ports = {"port": Port(12111), "https_port": Port(12112)}
    default_env = {
        "STRIPE_SECRET_KEY": "{{ secret_key }}",
        "STRIPE_PUBLISHABLE_KEY": "{{ publishable_key }}",
        "STRIPE_WEBHOOK_SECRET": "{{ webhook_secret }}",
        # SDKs read no base URL from the env: stripe-python needs
        # `stripe.api_base = os.environ["STRIPE_API_BASE"]` (docs/stripe.md says so).
        "STRIPE_API_BASE": "{{ api_base }}",
    }
    output_help = {
        "api_base": "http://host:port, the API base URL an SDK is pointed at",
        "url": "same as api_base",
        "host": "address the server listens on",
        "port": "HTTP port of the API",
        "secret_key": "test secret key (sk_test_...)",
        "publishable_key": "test publishable key (pk_test_...)",
        "webhook_secret": "webhook signing secret (whsec_...)",
        "js_url": "the Stripe.js stand-in, for the frontend's script tag (https://js.stripe.com/v3/ when external)",
        "implementation": "emulator, stripe-mock or external: what answers at api_base",
    }
    docker = ("devstack's Stripe emulator as a host process beside the containers; stripe/stripe-mock, pinned release, "
              "with `implementation: stripe-mock` (stateless: answers with fixtures)")
    native_binary = "with `implementation: stripe-mock`, a stripe-mock binary (`bin:`, PATH)"
    standin = ("devstack's Stripe emulator (python -m devstack.stubs.stripe), the default: stateful (SQLite under .devstack/), "
               "hosted Checkout and portal, signed webhooks (docs/stripe.md)")
    standin_lacks = ("Connect, tax, coupons, prorations, tiered/metered prices, non-card payment methods; "
                     "unknown parameters are ignored (docs/stripe.md)")
    secret_outputs = ("secret_key", "webhook_secret")

    def runs_on_host(self, mode, options):
        # The emulator is devstack's own Python server: a host process beside the containers, as stand-ins are.
        return mode == "stub" or (mode == "run" and options.get("implementation", "emulator") == "emulator")

    def image(self, svc):
        return None if self.runs_on_host(svc.mode, svc.options) else svc.options.get("image")

    def outputs(self, svc, stack):
        o = svc.options
        api_base = f"http://{svc.host}:{svc.ports['port']}"
        return {
            "api_base": api_base,
            "url": api_base,
            "host": svc.host,
            "port": svc.ports["port"],
            "secret_key": o["secret_key"],
            "publishable_key": o["publishable_key"],
            "webhook_secret": o["webhook_secret"],
            "js_url": f"{api_base}/v3/",
            "implementation": "stripe-mock" if o["implementation"] == "stripe-mock" and svc.mode == "run" else "emulator",
        }

    def external_outputs(self, svc):
        return {**super().external_outputs(svc), "api_base": svc.options["url"], "secret_key": svc.options["secret_key"] or "",
                "publishable_key": svc.options["publishable_key"] or "", "webhook_secret": svc.options["webhook_secret"] or "",
                "js_url": "https://js.stripe.com/v3/", "implementation": "external"}

    def check(self, options):
        problems = []
        mock = options.get("implementation") == "stripe-mock"
        for key, prefix in (("secret_key", "sk_test_"), ("publishable_key", "pk_test_"), ("webhook_secret", "whsec_")):
            value = options.get(key)
            if value is not None and not value.startswith(prefix):
                problems.append((key, f"must start with {prefix} (test mode only)"))
            elif mock and value is not None and key != "webhook_secret" and value.count("_") != 2:
                problems.append((key, "must have exactly three `_`-separated parts (stripe-mock rejects others)"))
        problems += webhook_problems(options.get("webhooks") or [])
        if mock and options.get("webhooks"):
            problems.append(("webhooks", "stripe-mock sends no webhooks: remove `webhooks` or use `implementation: emulator`"))
        return problems

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        if svc.options.get("implementation") != "stripe-mock":
            return ()  # the emulator is devstack's own: nothing to install
        return (Wanted(names=("stripe-mock",), what="stripe-mock", brew="stripe/stripe-mock/stripe-mock", dirs=("/usr/local/bin", "/opt/homebrew/bin"),
                       version_args=("-version",), elsewhere="stripe-mock's releases: https://github.com/stripe/stripe-mock/releases"),)

    def native(self, svc, stack, host):
        from devstack.services.spec import NativeSpec, python_env, python_module

        o = svc.outputs
        state = svc.state_dir
        if svc.mode == "run" and svc.options["implementation"] == "stripe-mock":
            binary = host.find(self.wanted(svc)[0], svc.options["bin"])
            return NativeSpec(
                argv=[binary, "-http-addr", f"{svc.host}:{o['port']}", "-https-addr", f"{svc.host}:{svc.ports['https_port']}"],
                implementation=f"stripe-mock ({binary})",
                cwd=state,
            )
        env = {**python_env(), "DEVSTACK_STRIPE_SECRET_KEY": o["secret_key"], "DEVSTACK_STRIPE_PUBLISHABLE_KEY": o["publishable_key"],
               "DEVSTACK_STRIPE_WEBHOOK_SECRET": o["webhook_secret"],
               "DEVSTACK_STRIPE_WEBHOOKS": json.dumps([{"url": w["url"], "events": w.get("events") or ["*"]} for w in svc.options["webhooks"]])}
        return NativeSpec(
            argv=python_module("devstack.stubs.stripe", "--host", svc.host, "--port", o["port"], "--state-dir", state / "data",
                               "--public-url", o["api_base"]),
            implementation="devstack Stripe emulator",
            env=env,
            cwd=state,
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        probes.http(o["api_base"] + "/v1/customers?limit=1", headers={"Authorization": f"Bearer {o['secret_key']}"})


def webhook_problems(webhooks) -> list[tuple[str, str]]:
    problems = []
    for i, hook in enumerate(webhooks):
        where = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            problems.append(("webhooks", f"{where}: expected a mapping like {{url: http://localhost:3000/webhook, events: [...]}}"))
            continue
        unknown = [k for k in hook if k not in WEBHOOK_KEYS]
        url = hook.get("url")
        events = hook.get("events", ["*"])
        if unknown:
            problems.append(("webhooks", f"{where}: unknown key `{unknown[0]}` (allowed: url, events)"))
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            problems.append(("webhooks", f"{where}.url: an http:// or https:// URL of the app's webhook route is required"))
        if not isinstance(events, list) or not events or not all(isinstance(e, str) and ("." in e or e == "*") for e in events):
            problems.append(("webhooks", f"{where}.events: a list of event types (invoice.paid, customer.subscription.updated) or ['*']"))
    return problems
