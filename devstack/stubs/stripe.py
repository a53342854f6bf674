"""localstripe (fake Stripe API) bound to one host, with its store under --state-dir.

    python -m devstack.stubs.stripe --port 8420 --state-dir DIR

Stock `localstripe` binds `::` (all interfaces) and pickles its store to the fixed,
machine-wide /tmp/localstripe.pickle. Here we reuse its aiohttp app
(localstripe.server.app) but bind only --host, and point the store at
DIR/localstripe.pickle, and add a minimal Prices API (see _localstripe_ext). Any
`sk_..` key is accepted, as in localstripe (not a secret: no env var needed).
Readiness: GET /v1/customers with such a key (there is no health route).
"""
from __future__ import annotations

import logging
import os
import pickle

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.stripe")


def _use_store_file(path: str) -> None:
    """Redirect localstripe's pickle persistence from /tmp/localstripe.pickle to `path`.

    The path is hard-coded inside Store.try_load_from_disk/dump_to_disk, so we
    replace those two methods (same behaviour, our path, atomic write).
    """
    from localstripe.resources import Store

    def try_load_from_disk(self):
        try:
            with open(path, "rb") as f:
                old = pickle.load(f)
        except FileNotFoundError:
            return
        self.clear()
        self.update(old)

    def dump_to_disk(self):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    Store.try_load_from_disk = try_load_from_disk
    Store.dump_to_disk = dump_to_disk


def build_app(state_dir: str):
    """localstripe's app (a module-level singleton: one per process) with state in state_dir."""
    _use_store_file(os.path.join(state_dir, "localstripe.pickle"))
    from localstripe import server
    from localstripe.resources import store

    from devstack.stubs import _localstripe_ext
    _localstripe_ext.install()  # Prices API + lenient PaymentIntent params
    store.try_load_from_disk()
    return server.app


def main(argv=None) -> None:
    _serve.main_with_state("stripe", __doc__, 8420, build_app, argv)


if __name__ == "__main__":
    main()
