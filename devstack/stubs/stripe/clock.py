"""The emulator's clock: wall time plus an offset the developer moves forward.

`devstack stripe advance 31d` adds to the offset (kept in the store), then the
work that came due in between (renewals, trial ends, retries, expiries) runs in
order, each at its own moment. Only time-stamps inside Stripe objects use this
clock; webhook signatures use the real time, as the SDKs check them against it.
"""
from __future__ import annotations

import calendar
import re
import time
from datetime import datetime, timezone

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")


class Clock:
    def __init__(self, store):
        self.store = store
        self.offset = float(store.meta("clock_offset", 0))

    def now(self) -> int:
        return int(time.time() + self.offset)

    def advance(self, seconds: int) -> int:
        with self.store.transaction():
            self.offset += seconds
            self.store.set_meta("clock_offset", self.offset)
        return self.now()


def parse_duration(text: str) -> int:
    """'31d', '2h30m', '1w', '90s' -> seconds. ValueError when it is none of those."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text).strip():
        raise ValueError(f"not a duration: {text!r} (use e.g. 31d, 12h, 90m, 1w, 3600s)")
    return sum(int(n) * UNITS[u] for n, u in parts)


def add_interval(ts: int, interval: str, count: int = 1) -> int:
    """Stripe's billing periods: a month from Jan 31 is Feb 28/29 (the day clamps), like its anchors."""
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    when = datetime.fromtimestamp(ts, timezone.utc)
    months = count * (12 if interval == "year" else 1)
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return int(when.replace(year=year, month=month, day=day).timestamp())
