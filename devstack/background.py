"""One function in a daemon thread; result() returns its value or raises its exception.

A plain thread, not concurrent.futures: that module costs `up` ~10 ms to import
before anything has started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Background:
    def __init__(self, fn: Callable[[], Any]):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._main, args=(fn,), daemon=True)
        self._thread.start()

    def _main(self, fn):
        try:
            self._value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._error = exc

    def join(self):
        self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
