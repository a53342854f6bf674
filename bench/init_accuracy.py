"""Kind detection of `devstack init`: precision and recall per input and overall.

Each fixtures/init/<app>/ holds an input (a dependency document, an example env
file, a compose file) and expected.yaml, the decision a person makes for every
variable. A variable counts for a kind when its decision is `<kind>.<output>` or
`<kind>` (a value the kind needs); secret / config / off / skipped count for none.
This is a check, not a timing: it exits 1 when a target is missed.

    python bench/init_accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devstack import init  # noqa: E402

FIXTURES = ROOT / "fixtures" / "init"
TARGET_PRECISION, TARGET_RECALL = 0.95, 0.90
NOT_A_KIND = {"secret", "config", "off", "skipped"}


def kind_of(label: str | None) -> str | None:
    if label is None or label is False or label in NOT_A_KIND:
        return None
    return str(label).split(".", 1)[0]


def score(name: str) -> tuple[int, int, int, int, list[str]]:
    """(true positives, false positives, false negatives, exact labels, misses) of one input."""
    want = yaml.safe_load((FIXTURES / name / "expected.yaml").read_text())["variables"]
    want = {k: ("off" if v is False else v) for k, v in want.items()}
    got: dict[str, str] = {}
    for decision in init.run(FIXTURES / name).decisions:
        got.setdefault(decision.var.name, decision.label)
    tp = fp = fn = exact = 0
    misses = []
    for var in dict.fromkeys([*want, *got]):
        w, g = kind_of(want.get(var)), kind_of(got.get(var))
        exact += want.get(var) == got.get(var)
        if g and g == w:
            tp += 1
        else:
            fp += bool(g)
            fn += bool(w)
            if g or w:
                misses.append(f"{var}: expected {want.get(var)}, got {got.get(var)}")
    return tp, fp, fn, exact, misses


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def main() -> int:
    names = sorted(p.parent.name for p in FIXTURES.glob("*/expected.yaml"))
    totals = [0, 0, 0]
    print(f"{'input':<18} {'vars':>5} {'precision':>10} {'recall':>8} {'exact':>7}")
    all_misses = []
    for name in names:
        tp, fp, fn, exact, misses = score(name)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
        count = len(yaml.safe_load((FIXTURES / name / "expected.yaml").read_text())["variables"])
        print(f"{name:<18} {count:>5} {ratio(tp, tp + fp):>10.3f} {ratio(tp, tp + fn):>8.3f} {exact:>4}/{count:<3}")
        all_misses += [f"  {name}: {m}" for m in misses]
    tp, fp, fn = totals
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    print(f"{'overall':<18} {'':>5} {precision:>10.3f} {recall:>8.3f}   ({tp} right, {fp} wrong kind, {fn} missed)")
    if all_misses:
        print("misses:\n" + "\n".join(all_misses))
    ok = precision >= TARGET_PRECISION and recall >= TARGET_RECALL
    print(f"target: precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL}: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
