"""`devstack doctor`: explain what is wrong, and the fix. Exit 1 when something fails."""

from __future__ import annotations

import sys

import click

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@click.command(help="Explain what is wrong with this machine or this stack, and the fix.")
@click.pass_obj
def doctor(app):
    from devstack import doctor as checks

    findings = checks.run(app)
    for f in findings:
        click.echo(f"{MARKS[f.level]}  {f.subject}: {f.message}")
        if f.fix and f.level != "ok":
            click.echo(f"      fix: {f.fix}")
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    click.echo(f"{failed} problems, {warned} warnings" if failed or warned else "all good")
    sys.exit(1 if failed else 0)
