"""`devstack doctor [--json] [SERVICE...]`: every problem, and its fix. Exit 1 when something fails."""

from __future__ import annotations

import json
import sys

import click

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@click.command(help="Check this machine, the stack and the app's .env: one line per check (ok / warn / FAIL), "
                    "each problem with its fix. Exit 0 when nothing fails, 1 otherwise. Writes nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list of {check, level, subject, message, fix}.")
@click.argument("services", nargs=-1, metavar="[SERVICE]...")
@click.pass_obj
def doctor(app, as_json, services):
    from devstack import doctor as checks

    findings = checks.run(app, services)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        width = max((len(f.check) for f in findings), default=5)
        for f in findings:
            first, *more = f.message.splitlines() or [""]
            click.echo(f"{MARKS[f.level]}  {f.check:<{width}}  {f.subject}: {first}")
            for line in more:
                click.echo(f"{'':<{width + 8}}{line}")
            if f.fix and f.level != "ok":
                fix_first, *fix_more = f.fix.splitlines()
                click.echo(f"{'':<{width + 8}}fix: {fix_first}")
                for line in fix_more:
                    click.echo(f"{'':<{width + 13}}{line}")
        failed = sum(f.level == "fail" for f in findings)
        warned = sum(f.level == "warn" for f in findings)
        summary = f"{failed} {'problem' if failed == 1 else 'problems'}, {warned} {'warning' if warned == 1 else 'warnings'}"
        click.echo(summary if failed or warned else "all good")
    sys.exit(1 if any(f.level == "fail" for f in findings) else 0)
