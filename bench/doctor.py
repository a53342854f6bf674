"""`devstack doctor` on a healthy running Rail Gun stack (native) against
`devstack status` on the same stack, in the same run.

    python bench/doctor.py [ROUNDS]

Both commands probe every service with its real protocol; doctor also checks
the programs' versions, ports, leftovers, state dirs, .env drift, fixture
hashes and the host sanity checks coturn and LiveKit need. Interleaved
(status doctor status doctor ...), medians of wall time as a user sees it.
Targets: doctor <= 0.5 s, and doctor / status <= 3. Exit 1 on a miss.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import interleave  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "railgun"
TARGET_SECONDS = 0.5
TARGET_RATIO = 3.0


def main(rounds: int = 15) -> int:
    # As `make install` leaves it: bytecode compiled (some machines set PYTHONDONTWRITEBYTECODE).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "devstack")], check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="devstack-bench-doctor-") as tmp:
        root = Path(tmp) / "railgun"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".devstack", ".env"))
        env = {**os.environ, "DEVSTACK_HOME": str(Path(tmp) / "home"), "DEVSTACK_RUNTIME": "native"}

        def cli(*args, expect: int | None = 0) -> subprocess.CompletedProcess:
            result = subprocess.run([sys.executable, "-m", "devstack", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
            if expect is not None and result.returncode != expect:
                raise SystemExit(f"devstack {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
            return result

        try:
            cli("up")
            healthy = cli("doctor", expect=None)
            if healthy.returncode != 0:
                raise SystemExit(f"the stack is not healthy, doctor says:\n{healthy.stdout}")
            medians = interleave({"status": lambda: cli("status"), "doctor": lambda: cli("doctor")}, rounds)
        finally:
            subprocess.run([sys.executable, "-m", "devstack", "down", "--volumes"], cwd=root, env=env, capture_output=True, timeout=300)

    doctor, status = medians["doctor"], medians["status"]
    ratio = doctor / status
    print(f"Rail Gun, native, healthy: {rounds} interleaved rounds (medians, wall time)")
    print(f"  devstack status   {status * 1000:7.0f} ms")
    print(f"  devstack doctor   {doctor * 1000:7.0f} ms   x{ratio:.2f} of status")
    misses = []
    if doctor > TARGET_SECONDS:
        misses.append(f"doctor {doctor:.2f} s > {TARGET_SECONDS} s")
    if ratio > TARGET_RATIO:
        misses.append(f"doctor / status x{ratio:.2f} > x{TARGET_RATIO:.0f}")
    load = os.getloadavg()
    print(f"  targets: doctor <= {TARGET_SECONDS} s, doctor / status <= x{TARGET_RATIO:.0f}")
    print(f"  machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    print("verdict: " + ("PASS" if not misses else "MISS: " + "; ".join(misses)))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
