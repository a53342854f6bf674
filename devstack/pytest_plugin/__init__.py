"""pytest plugin (entry point `devstack`): the app's services for its test suite.

    def test_signup(devstack_postgres, devstack_redis, devstack_inbox, devstack_env): ...

A test run gets a stack of its own (isolated from the developer's `devstack up`
of the same manifest, seeded from its fixtures, taken down at the end, even
when pytest is killed); each test gets a clean seeded world on it: its
database, Redis db, bucket, inbox, Stripe events, stand-in request logs.
Options: --devstack-manifest, --devstack-runtime, --devstack-attach,
--devstack-keep (and the same ini keys); docs/pytest.md.

Loaded in every pytest run of a project that installs devstack: importing it
costs only pytest's own imports; everything else loads when a test asks for
a devstack fixture.
"""

from __future__ import annotations

import pytest

from devstack.pytest_plugin import options
from devstack.pytest_plugin.fixtures import (  # noqa: F401 - fixtures are found by name in this module
    RUN_KEY,
    _devstack_worker,
    devstack,
    devstack_bucket,
    devstack_env,
    devstack_inbox,
    devstack_livekit,
    devstack_postgres,
    devstack_redis,
    devstack_stripe,
    devstack_stub_log,
    devstack_turn_credentials,
)


def pytest_addoption(parser):
    options.add(parser)


def pytest_configure(config):
    from devstack.pytest_plugin.run import Run, WORKER_KEY  # noqa: F401

    options.value(config, "devstack_runtime")  # a wrong ini value fails here, once, not in every test
    config.stash[RUN_KEY] = Run(config)
    config.addinivalue_line("markers", "devstack_bucket(name): the seeded bucket devstack_bucket copies (default: the first)")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist's controller: every worker joins this run's stack."""
    from devstack.pytest_plugin.run import WORKER_KEY

    node.workerinput[WORKER_KEY] = node.config.stash[RUN_KEY].for_workers()


def pytest_unconfigure(config):
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.finish()
