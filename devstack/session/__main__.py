"""python -m devstack.session stop STATE_DIR: take down a test stack kept with --devstack-keep."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "stop":
        sys.stderr.write("usage: python -m devstack.session stop .devstack/test-runs/<run id>\n")
        return 2
    from devstack.session import SessionStack, Spec, read_spec

    spec = read_spec(Path(argv[1]))
    if spec is None:
        sys.stderr.write(f"{argv[1]}: no test stack there (already stopped?)\n")
        return 1
    SessionStack(Spec(**spec)).teardown(lambda message: sys.stderr.write(message + "\n"))
    sys.stderr.write(f"stopped the test stack in {argv[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
