"""Stripe API: stripe-mock in Docker; stripe-mock binary or localstripe natively."""

from __future__ import annotations

from devstack.services.base import Kind, Option, Port


class Stripe(Kind):
    name = "stripe"
    summary = "Stripe API test double"
    modes = ("run", "stub", "off", "external")
    standin_when_no_binary = True
    options = {
        "image": Option(str, "stripe/stripe-mock:v0.192.0", "stripe-mock image"),
        # stripe-mock accepts only keys of exactly three `_`-separated parts.
        "secret_key": Option(str, None, "test secret key (sk_test_...); generated when unset", generate="stripe:sk_test"),
        "publishable_key": Option(str, None, "test publishable key (pk_test_...); generated when unset", generate="stripe:pk_test"),
        "webhook_secret": Option(str, None, "webhook signing secret (whsec_...); generated when unset", generate="stripe:whsec"),
        "bin": Option(str, None, "path of a stripe-mock binary for the native runtime (else localstripe)"),
    }
    ports = {"port": Port(12111), "https_port": Port(12112)}
    default_env = {
        "STRIPE_SECRET_KEY": "{{ secret_key }}",
        "STRIPE_PUBLISHABLE_KEY": "{{ publishable_key }}",
        "STRIPE_WEBHOOK_SECRET": "{{ webhook_secret }}",
        # SDKs read no base URL from the env: stripe-python needs
        # `stripe.api_base = os.environ["STRIPE_API_BASE"]` (README says so).
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
    }
    docker = "stripe/stripe-mock, pinned release (stateless: answers with fixtures)"
    native_binary = "a stripe-mock binary when one is installed (`bin:`, PATH)"
    standin = "devstack's Stripe stand-in (python -m devstack.stubs.stripe), stateful, its store under .devstack/"
    standin_lacks = "the parts of the Stripe API it does not implement answer errors; test mode only, nothing reaches Stripe"
    secret_outputs = ("secret_key", "webhook_secret")

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
        }

    def external_outputs(self, svc):
        return {**super().external_outputs(svc), "api_base": svc.options["url"], "secret_key": svc.options["secret_key"] or "",
                "publishable_key": svc.options["publishable_key"] or "", "webhook_secret": svc.options["webhook_secret"] or ""}

    def check(self, options):
        problems = []
        for key, prefix in (("secret_key", "sk_test_"), ("publishable_key", "pk_test_"), ("webhook_secret", "whsec_")):
            value = options.get(key)
            if value is not None and not value.startswith(prefix):
                problems.append((key, f"must start with {prefix} (test mode only)"))
            elif value is not None and key != "webhook_secret" and value.count("_") != 2:
                problems.append((key, "must have exactly three `_`-separated parts (stripe-mock rejects others)"))
        return problems

    def native(self, svc, stack, host):
        from devstack.services.spec import NativeSpec, Wanted, python_env, python_module

        o = svc.outputs
        state = svc.state_dir
        wanted = Wanted(names=("stripe-mock",), what="stripe-mock", brew="stripe/stripe-mock/stripe-mock",
                                 dirs=("/usr/local/bin", "/opt/homebrew/bin"))
        binary = host.optional_for(svc, wanted)
        if binary:
            return NativeSpec(
                argv=[binary, "-http-addr", f"{svc.host}:{o['port']}", "-https-addr", f"{svc.host}:{svc.ports['https_port']}"],
                implementation=f"stripe-mock ({binary})",
                cwd=state,
            )
        # localstripe on 127.0.0.1 with its store under the state dir (its stock
        # command binds `::` and pickles to a machine-wide /tmp file).
        return NativeSpec(
            argv=python_module("devstack.stubs.stripe", "--host", svc.host, "--port", o["port"], "--state-dir", state / "data"),
            implementation="localstripe (no stripe-mock binary found)",
            env=python_env(),
            cwd=state,
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        probes.http(o["api_base"] + "/v1/customers?limit=1", headers={"Authorization": f"Bearer {o['secret_key']}"})
