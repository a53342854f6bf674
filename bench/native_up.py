"""Native runtime: `devstack up` of the Rail Gun example, cold and warm, against
the slowest of its services started alone in the same run.

    python bench/native_up.py [ROUNDS]

cold: fresh data dirs (`down --volumes` before each, untimed): initdb etc.
warm: data kept (`down` before each, untimed): the usual restart.
Each service of the example is first started alone (cold and warm, median of
3) to find the slowest in each condition; then the candidates run interleaved (A B A B ...) and the medians
are reported. Services start in parallel, so `up` of the whole stack should
cost little more than its slowest service: targets here are whole /
slowest-single <= 1.3 cold and warm, warm <= 1 s, cold <= 2 s; exit 1 on a miss.
Timed: the wall time of the `devstack up --no-seed` command, as a user sees it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from _common import Verdict
from _native import EXAMPLE, Project, example_manifest

CALIBRATION_RUNS = 3
RATIO, WARM_S, COLD_S = 1.3, 1.0, 2.0


def single_service_projects(base: Path, env: dict, manifest: dict) -> dict[str, Project]:
    projects = {}
    for name, body in manifest["services"].items():
        if body.get("mode") == "off":
            continue
        root = base / f"alone-{name}"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".devstack", ".env"))
        alone = {"project": f"alone-{name}", "runtime": "native", "services": {name: body}}
        (root / "devstack.yaml").write_text(yaml.safe_dump(alone))
        projects[name] = Project(root, env)
    return projects


def main(rounds: int = 5) -> int:
    verdict = Verdict("native up")
    with tempfile.TemporaryDirectory(prefix="devstack-bench-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "DEVSTACK_HOME": str(base / "home"), "DEVSTACK_RUNTIME": "native"}
        whole_root = base / "railgun"
        shutil.copytree(EXAMPLE, whole_root, ignore=shutil.ignore_patterns(".devstack", ".env"))
        manifest = example_manifest()
        (whole_root / "devstack.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        whole = Project(whole_root, env)
        singles = single_service_projects(base, env, manifest)
        try:
            # Warm the page cache and find the slowest service started alone, cold
            # and warm (a different one can be slowest in each).
            whole.timed_up()
            whole.cli("down", "--volumes")
            alone = {(name, cond): [] for name in singles for cond in ("cold", "warm")}
            for _ in range(CALIBRATION_RUNS):
                for name, project in singles.items():
                    for cond, reset in (("cold", ("down", "--volumes")), ("warm", ("down",))):
                        project.cli(*reset)
                        alone[(name, cond)].append(project.timed_up())
            for project in singles.values():
                project.cli("down", "--volumes")
            slowest = {}
            for cond in ("cold", "warm"):
                medians_alone = {name: statistics.median(alone[(name, cond)]) for name in singles}
                slowest[cond] = max(medians_alone, key=medians_alone.get)
                print(f"each service alone, {cond} (median of {CALIBRATION_RUNS}): "
                      + ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in sorted(medians_alone.items(), key=lambda kv: -kv[1])))

            candidates = {
                "railgun up, cold": (whole, ("down", "--volumes")),
                f"{slowest['cold']} alone, cold": (singles[slowest["cold"]], ("down", "--volumes")),
                "railgun up, warm": (whole, ("down",)),
                f"{slowest['warm']} alone, warm": (singles[slowest["warm"]], ("down",)),
            }
            involved = {whole, singles[slowest["cold"]], singles[slowest["warm"]]}
            samples = {name: [] for name in candidates}
            for project in involved:  # make sure a warm data dir exists
                project.cli("up", "--no-seed")
                project.cli("down")
            for _ in range(rounds):
                for name, (project, reset) in candidates.items():
                    for other in involved - {project}:  # one stack at a time (they share pinned ports)
                        other.cli("down")
                    project.cli(*reset)
                    samples[name].append(project.timed_up())
            medians = {name: statistics.median(values) for name, values in samples.items()}
        finally:
            for project in [whole, *singles.values()]:
                subprocess.run([sys.executable, "-m", "devstack", "down", "--volumes"], check=False, cwd=project.root, env=env,
                               capture_output=True, timeout=300)

    print(f"\n`devstack up --no-seed`, native runtime, {rounds} interleaved rounds (medians, wall time):")
    for name, seconds in medians.items():
        spread = f"{min(samples[name]) * 1000:.0f}-{max(samples[name]) * 1000:.0f} ms"
        print(f"  {name:<28} {seconds * 1000:7.0f} ms   (range {spread})")
    cold = medians["railgun up, cold"] / medians[f"{slowest['cold']} alone, cold"]
    warm = medians["railgun up, warm"] / medians[f"{slowest['warm']} alone, warm"]
    verdict.check(f"cold: whole / slowest ({slowest['cold']})", f"x{cold:.2f}", f"<= x{RATIO}", cold <= RATIO)
    verdict.check(f"warm: whole / slowest ({slowest['warm']})", f"x{warm:.2f}", f"<= x{RATIO}", warm <= RATIO)
    verdict.check("railgun up, warm", f"{medians['railgun up, warm']:.2f} s", f"<= {WARM_S:.0f} s", medians["railgun up, warm"] <= WARM_S)
    verdict.check("railgun up, cold", f"{medians['railgun up, cold']:.2f} s", f"<= {COLD_S:.0f} s", medians["railgun up, cold"] <= COLD_S)
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
