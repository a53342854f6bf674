"""CLI start-up: `devstack --help` and `devstack env` against `python -c pass`.

Heavy libraries (python-on-whales, psycopg, boto3...) must be imported lazily;
this shows what the CLI costs on top of the interpreter itself. Target: each
costs at most 80 ms more than `python -c pass`; exit 1 on a miss.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Verdict, interleave, report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OVERHEAD_MS = 80


def main(rounds: int = 15) -> int:
    verdict = Verdict("CLI start-up")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "railgun"
        shutil.copytree(ROOT / "fixtures" / "railgun", project)
        env = {**os.environ, "DEVSTACK_HOME": str(Path(tmp) / "home")}

        def run(*args):
            return lambda: subprocess.run([sys.executable, *args], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)

        run("-m", "devstack", "render")()  # secrets and ports exist, as on a developer's machine
        medians = interleave({
            "python -c pass": run("-c", "pass"),
            "devstack --help": run("-m", "devstack", "--help"),
            "devstack env": run("-m", "devstack", "env"),
        }, rounds)
    report("CLI start-up", medians, "python -c pass")
    for name in ("devstack --help", "devstack env"):
        extra = (medians[name] - medians["python -c pass"]) * 1000
        verdict.check(f"{name}, over python -c pass", f"+{extra:.0f} ms", f"<= +{OVERHEAD_MS} ms", extra <= OVERHEAD_MS)
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
