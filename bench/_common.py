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
