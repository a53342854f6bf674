"""`devstack` entry point: one click group, one module per command.

Expected failures (UserError) print one line plus a hint and exit 2 (1 for
services that failed); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import click

from devstack.project import Project

COMMANDS = {
    "up": "devstack.cli.up:up",
    "down": "devstack.cli.down:down",
    "status": "devstack.cli.status:status",
    "logs": "devstack.cli.logs:logs",
    "seed": "devstack.cli.seed:seed",
    "render": "devstack.cli.render:render",
    "env": "devstack.cli.env:env",
    "doctor": "devstack.cli.doctor:doctor",
    "kinds": "devstack.cli.kinds:kinds",
    "stripe": "devstack.cli.stripe:stripe",
    "init": "devstack.cli.init:init",
}
SUMMARIES = {
    "up": "Render, start, wait until ready, seed, write .env.",
    "down": "Stop the stack (data kept; --volumes deletes it).",
    "status": "Show each service's state.",
    "logs": "Show a service's log.",
    "seed": "Load fixtures (--reset restores the seeded state).",
    "render": "Write .devstack/compose.yaml and the app's .env.",
    "env": "Print connection settings (dotenv | json | shell).",
    "doctor": "Check this machine, the stack and the app's .env; each problem with its fix.",
    "kinds": "List the service kinds, or show one's options and outputs.",
    "stripe": "Local Stripe: trigger, listen, events, checkout, advance.",
    "init": "Write devstack.yaml from the app's .env.example or dependency document.",
}


# Options every command takes, before or after its name (`devstack -f x up` and
# `devstack up -f x`): defined once here, attached to the group and each command.
GLOBAL_OPTIONS = (
    (("-f", "--file"), {"metavar": "PATH", "help": "Manifest to use (default: devstack.yaml here or in a parent)."}),
    (("--runtime",), {"type": click.Choice(["auto", "docker", "native"]), "help": "Override the manifest's runtime (or DEVSTACK_RUNTIME)."}),
    (("--context",), {"metavar": "NAME", "help": "Docker context to run the stack on (default: DOCKER_HOST / current context)."}),
)


def _set_on_project(ctx, param, value):
    if value is not None:  # a later position wins; an absent one keeps the earlier
        setattr(ctx.ensure_object(Project), param.name, value)
    return value


def global_options(taken=()) -> list[click.Option]:
    """Fresh Option objects; a short flag a command uses itself (`logs -f`) is left out there."""
    options = []
    for decls, attrs in GLOBAL_OPTIONS:
        options.append(click.Option([d for d in decls if d not in taken], expose_value=False, callback=_set_on_project, **attrs))
    return options


def with_global_options(command: click.Command) -> click.Command:
    if not getattr(command, "_devstack_globals", False):
        taken = {opt for param in command.params for opt in param.opts}
        command.params.extend(global_options(taken))
        command._devstack_globals = True
        for sub in getattr(command, "commands", {}).values():  # groups such as `devstack stripe`
            with_global_options(sub)
    return command


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (fast --help)."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        if ctx.resilient_parsing or "--help" in sys.argv[1:2]:
            return click.Command(name, help=SUMMARIES[name], short_help=SUMMARIES[name])
        module, attr = target.split(":")
        return with_global_options(getattr(__import__(module, fromlist=[attr]), attr))

    def format_commands(self, ctx, formatter):
        rows = [(name, SUMMARIES[name]) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="devstack")
@click.pass_context
def cli(ctx):
    """devstack: your app's external services as a running, seeded local stack."""
    ctx.ensure_object(Project)


cli.params[:0] = global_options()


def main(argv=None) -> None:
    from devstack.errors import UserError

    try:
        cli.main(args=argv, prog_name="devstack", standalone_mode=False)
    except UserError as exc:
        print(exc.render(), file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:
        from devstack.fsutil import is_disk_error, not_writable

        if not is_disk_error(exc):
            raise
        # A write no caller turned into NotWritable: still one clear line, not a traceback.
        error = not_writable(exc)
        print(error.render(), file=sys.stderr)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    if argv is None:  # the console script, not a caller in this process
        _exit_at_once()


def _exit_at_once() -> None:
    """Exit 0 without the interpreter's teardown: freeing every module at exit took
    ~25 ms of CPU, a noticeable part of a warm `up`. Only when nothing else is
    running in this process; output is flushed first."""
    import os
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            return  # let the normal exit report it
    os._exit(0)


if __name__ == "__main__":
    main()
