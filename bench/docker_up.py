"""`devstack up` against `docker compose up -d --wait` on the same rendered file.

Both start the same .devstack/compose.yaml under the same project name on the
same engine, in the same run, interleaved (A B A B ...):

  cold: after `docker compose down -v`  (fresh volumes: databases initialise)
  warm: after `docker compose down`     (volumes kept: containers are recreated)

`--wait` cannot finish before one healthcheck interval has passed (Engine 20.10
has no `start_interval`); devstack probes each service's real protocol from the
host and is done as soon as it answers. Targets: warm ratio <= 0.4, cold
ratio <= 0.9; exit 1 on a miss. Also timed: plain `compose up -d` (containers
started, nobody waits for them to answer), the floor of any `up`.

Needs a docker engine, the compose v2 plugin and the stand-in images
(tests/docker/images/build.sh). Usage:

    python bench/docker_up.py [--rounds N] [--services postgres,redis,mailpit]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Verdict
from devstack.services import catalog

TARGETS = {"warm": 0.4, "cold": 0.9}

ROOT = Path(__file__).resolve().parent.parent
IMAGES = {
    "postgres": "devstack-test/postgres:15",
    "redis": "devstack-test/redis:7",
    "mailpit": "devstack-test/mailpit:latest",
}


def devstack_cmd() -> list[str]:
    """The console script next to this interpreter (as a user runs it), else `python -m devstack`."""
    script = Path(sys.executable).parent / "devstack"
    if script.exists() and script.read_bytes()[:2] == b"#!" and b"python" in script.read_bytes().splitlines()[0]:
        return [str(script)]
    return [sys.executable, "-m", "devstack"]


def free_port() -> int:
    import random
    import socket

    while True:
        port = random.randint(15000, 19999)  # below the ephemeral range
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def main() -> int:
    verdict = Verdict("docker up")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--services", default="postgres,redis,mailpit", help="comma-separated kinds to run")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.services.split(",") if k.strip()]

    with tempfile.TemporaryDirectory(prefix="devstack-bench-") as tmp:
        project = Path(tmp) / "bench"
        project.mkdir()
        lines = ["project: bench-docker-up", "runtime: docker", "services:"]
        for kind in kinds:
            lines += [f"  {kind}:", f"    kind: {kind}", f"    image: {IMAGES[kind]}"]
            # Fixed ports: on a shared machine another program may take a well-known
            # port mid-run, and a re-assigned port would change the rendered file.
            lines += [f"    {name}: {free_port()}" for name in catalog.get(kind).ports]
        (project / "devstack.yaml").write_text("\n".join(lines) + "\n")
        env = {**os.environ, "DEVSTACK_HOME": str(Path(tmp) / "home"), "DEVSTACK_RUNTIME": "docker"}
        devstack = devstack_cmd()

        def sh(argv: list[str]) -> None:
            done = subprocess.run(argv, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
            if done.returncode:
                raise SystemExit(f"failed: {' '.join(argv)}\n{done.stderr}")

        sh(devstack + ["up", "--no-seed"])  # ports, secrets and the rendered file exist from here on
        compose = ["docker", "compose", "-f", str(project / ".devstack" / "compose.yaml"), "-p", "devstack-bench-docker-up"]
        rendered = (project / ".devstack" / "compose.yaml").read_text()

        def devstack_up():
            sh(devstack + ["up", "--no-seed"])

        def compose_wait():
            sh(compose + ["up", "-d", "--wait"])

        def compose_detach():  # the floor: containers created and started, nobody waits for them to answer
            sh(compose + ["up", "-d"])

        results = {}
        try:
            # Warm first: cold rounds delete volumes (thousands of files each), and
            # this disk creates files far slower for minutes after many deletes.
            for label, volumes in (("warm", False), ("cold", True)):
                reset = compose + ["down"] + (["-v"] if volumes else [])
                samples = {"devstack up": [], "compose up -d --wait": [], "compose up -d (floor)": []}
                runs = (("devstack up", devstack_up), ("compose up -d --wait", compose_wait), ("compose up -d (floor)", compose_detach))
                for i in range(args.rounds + 1):  # round 0 warms caches and is not counted
                    for name, fn in runs:
                        sh(reset)  # the same starting state for both; not timed
                        start = time.perf_counter()
                        fn()
                        if i:
                            samples[name].append(time.perf_counter() - start)
                results[label] = {name: statistics.median(values) for name, values in samples.items()}
                results[label]["samples"] = samples
            same = (project / ".devstack" / "compose.yaml").read_text() == rendered
        finally:
            sh(compose + ["down", "-v"])
            shutil.rmtree(project / ".devstack", ignore_errors=True)
        if not same:
            raise SystemExit("the rendered compose file changed during the run: the comparison is void")

    print(f"devstack up vs docker compose up -d --wait ({', '.join(kinds)}; {args.rounds} rounds, medians)")
    for label, medians in results.items():
        for name, values in medians.pop("samples").items():
            print(f"    {label} {name:<22} " + " ".join(f"{v:.2f}" for v in values))
        print(f"  {label}: devstack up {medians['devstack up']:.2f} s   compose up -d --wait {medians['compose up -d --wait']:.2f} s"
              f"   compose up -d (no readiness at all) {medians['compose up -d (floor)']:.2f} s")
        ratio = medians["devstack up"] / medians["compose up -d --wait"]
        verdict.check(f"{label}: devstack up / compose up -d --wait", f"x{ratio:.2f}", f"<= x{TARGETS[label]}", ratio <= TARGETS[label])
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main())
