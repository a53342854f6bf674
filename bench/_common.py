"""Benchmark helpers: interleave the candidates (A B A B ...) and report medians.

This disk slows down for minutes after many deletes, so back-to-back blocks of
one candidate would measure the disk, not the code.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleave(candidates: dict[str, Callable[[], None]], rounds: int, warmup: int = 1) -> dict[str, float]:
    """Run each candidate once per round, in turn; return the median seconds of each."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: dict[str, float], baseline: str) -> None:
    print(f"{title} (medians; ratio to {baseline})")
    for name, seconds in medians.items():
        print(f"  {name:<32} {seconds * 1000:8.1f} ms   x{seconds / medians[baseline]:.2f}")


def load_average() -> float:
    """The 1-minute load average: above ~2 on 2 cores, timings are noisy."""
    import os

    return os.getloadavg()[0]


class Verdict:
    """A bench's targets: each check printed with its figure, then one verdict.

    `exit_code()` is non-zero when a target is missed, so `make bench` is a check."""

    def __init__(self, title: str):
        self.title, self.checks = title, []
        self.load_at_start = load_average()

    def check(self, name: str, figure: str, target: str, ok: bool) -> bool:
        self.checks.append((name, figure, target, ok))
        return ok

    def exit_code(self) -> int:
        import os

        width = max((len(c[0]) for c in self.checks), default=0)
        print(f"\n{self.title}: targets")
        for name, figure, target, ok in self.checks:
            print(f"  {name:<{width}}  {figure:>14}  target {target:<12} {'met' if ok else 'MISSED'}")
        load = os.getloadavg()
        missed = [c for c in self.checks if not c[3]]
        print(f"  {os.cpu_count()} cores; load average {self.load_at_start:.2f} at the start, {load[0]:.2f} at the end"
              + ("  (above 2: figures are noisy)" if max(load[0], self.load_at_start) > 2 else ""))
        print(f"  verdict: {'PASS' if not missed else f'MISS ({len(missed)} of {len(self.checks)} targets missed)'}")
        return 1 if missed else 0
