"""Stand-in servers devstack runs as native processes (`python -m devstack.stubs.<name>`)."""
import sys

# When run as `python -m devstack.stubs.<name>`, a SIGTERM/SIGINT that lands while we
# are still importing (before _serve.run installs its handlers) must also exit 0.
# Only then: importing this package in-process must not touch signal handling.
_argv = getattr(sys, "orig_argv", [])
_main = _argv[_argv.index("-m") + 1] if "-m" in _argv[:-1] else ""
if _main.startswith("devstack.stubs."):
    import signal

    for _sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(_sig, lambda *_: sys.exit(0))
