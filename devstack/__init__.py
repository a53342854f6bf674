"""devstack: an app's external dependencies as a running, seeded local stack."""

__version__ = "0.1.0"
