"""What every command shares: the Project it works on (ctx.obj) and how it prints."""

from __future__ import annotations

import sys
from pathlib import Path


def info(message: str) -> None:
    """Progress and notes go to stderr; stdout is for data. One write per line:
    services start in parallel threads, and print() writes the newline apart."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def relative(path: Path) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)
