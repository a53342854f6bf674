"""The plugin's options: each an ini key and a command-line flag with one help text."""

from __future__ import annotations

RUNTIMES = ("auto", "docker", "native")

# (ini key, flag, aliases, help, kind)
OPTIONS = (
    ("devstack_manifest", "--devstack-manifest", ("--devstack-file",),
     "devstack.yaml the test stack is made from (default: found from the rootdir upwards)", "path"),
    ("devstack_runtime", "--devstack-runtime", (),
     "runtime of the test stack: auto, docker or native (default: DEVSTACK_RUNTIME, else the manifest's runtime:)", "runtime"),
    ("devstack_attach", "--devstack-attach", (),
     "use the developer's running stack (`devstack up`) instead of a test stack of the run's own", "bool"),
    ("devstack_keep", "--devstack-keep", (),
     "leave the test stack up after the run (for debugging) and print how to reach and stop it", "bool"),
)
LEGACY_INI = {"devstack_manifest": "devstack_file"}


def add(parser) -> None:
    group = parser.getgroup("devstack", "devstack: a seeded stack of the app's services for the tests")
    for ini, flag, aliases, help_text, kind in OPTIONS:
        parser.addini(ini, help_text, type="bool" if kind == "bool" else "string", default=None)
        if kind == "bool":
            group.addoption(flag, *aliases, action="store_true", default=None, dest=ini, help=help_text)
        elif kind == "runtime":
            group.addoption(flag, *aliases, choices=RUNTIMES, default=None, dest=ini, help=help_text)
        else:
            group.addoption(flag, *aliases, metavar="PATH", default=None, dest=ini, help=help_text)
    for old in LEGACY_INI.values():
        parser.addini(old, "old name of devstack_manifest", default=None)


def value(config, ini: str):
    """The flag when given, else the ini key (an ini path is relative to the ini file)."""
    given = config.getoption(ini)
    if given is not None:
        return given
    for key in (ini, LEGACY_INI.get(ini)):
        if not key:
            continue
        raw = config.getini(key)
        if raw not in (None, ""):
            if ini == "devstack_manifest" and config.inipath:
                return str(config.inipath.parent / raw)
            if ini == "devstack_runtime" and raw not in RUNTIMES:
                import pytest

                raise pytest.UsageError(f"{config.inipath}: devstack_runtime = {raw!r}: use one of {', '.join(RUNTIMES)}")
            return raw
    return None
