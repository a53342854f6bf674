"""devstack's Stripe emulator: a stateful, local Stripe API for development and tests.

    DEVSTACK_STRIPE_SECRET_KEY=sk_test_... DEVSTACK_STRIPE_WEBHOOK_SECRET=whsec_... \\
        python -m devstack.stubs.stripe --port 12111 --state-dir DIR [--public-url URL]

What it covers, and how apps point at it: docs/stripe.md. Modules: store (SQLite,
one transaction per call), forms (Stripe's bracketed parameters), api (keys,
idempotency, expand), one module per resource family (catalog, customers,
payments, checkout, billing, portal, webhooks), events + delivery (signed
webhooks with retries), clock + renewals (`devstack stripe advance`), pages
(hosted Checkout, portal, authentication), stripejs (the Stripe.js stand-in),
admin + triggers (the CLI's routes).
"""
