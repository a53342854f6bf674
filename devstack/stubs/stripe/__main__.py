"""`python -m devstack.stubs.stripe`: serve the emulator on one address until SIGTERM.

Keys come from the environment (argv is world-readable): DEVSTACK_STRIPE_SECRET_KEY
(required), DEVSTACK_STRIPE_PUBLISHABLE_KEY, DEVSTACK_STRIPE_WEBHOOK_SECRET, and
DEVSTACK_STRIPE_WEBHOOKS, the manifest's endpoints as JSON ([{"url", "events"}]).
Readiness: GET /v1/customers?limit=1 with the secret key.
"""
from __future__ import annotations

import json
import sys

from devstack.stubs import _serve


def main(argv=None) -> None:
    parser = _serve.arg_parser("stripe", __doc__)
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--public-url", help="base URL of the hosted pages (default http://HOST:PORT)")
    args = parser.parse_args(argv)
    log = _serve.setup_logging("stripe")
    secret_key = _serve.env_secret("DEVSTACK_STRIPE_SECRET_KEY")
    if not secret_key:
        log.error("cannot start: DEVSTACK_STRIPE_SECRET_KEY is not set (the only key the emulator accepts)")
        sys.exit(2)
    try:
        webhooks = json.loads(_serve.env_secret("DEVSTACK_STRIPE_WEBHOOKS") or "[]")
    except ValueError:
        log.error("cannot start: DEVSTACK_STRIPE_WEBHOOKS is not JSON")
        sys.exit(2)
    from devstack.stubs.stripe.app import Emulator, build_app

    emu = Emulator(_serve.state_dir(args.state_dir), secret_key, _serve.env_secret("DEVSTACK_STRIPE_PUBLISHABLE_KEY"),
                   _serve.env_secret("DEVSTACK_STRIPE_WEBHOOK_SECRET") or "", args.public_url or f"http://{args.host}:{args.port}",
                   webhooks)
    app = build_app(emu)
    _serve.run(lambda: _serve.start_app(app, args.host, args.port))


if __name__ == "__main__":
    main()
