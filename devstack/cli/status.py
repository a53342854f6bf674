"""`devstack status [--json]`: each service's state, where the stack runs."""

from __future__ import annotations

import json
import sys

import click


@click.command(help="Show each service's state (--json for scripts). Exit 0 only when every service "
                    "that should run is running and ready, 1 otherwise. Writes nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
@click.pass_obj
def status(app, as_json):
    from devstack.cli.app import info
    from devstack.urls import mask_password

    rt = app.select_runtime()
    plan = app.plan(host=rt.public_host(), persist=False)
    states = rt.status(plan)
    for s in states:
        s.detail = mask_password(s.detail)  # `mode: external` shows the URL it was given
    not_ready = [s for s in states if s.mode in ("run", "stub") and s.state != "ready"]
    if as_json:
        click.echo(json.dumps({"project": plan.project, "runtime": rt.name, "where": rt.where(),
                               "ready": not not_ready, "services": [s.as_dict() for s in states]}, indent=2))
    else:
        click.echo(f"{plan.project} on {rt.name} ({rt.where()})")
        width = max((len(s.name) for s in states), default=4)
        for s in states:
            pid = f"pid {s.pid}" if s.pid else ""
            click.echo(f"  {s.name:<{width}}  {s.kind:<9} {s.mode:<8} {s.state:<8} {s.detail} {pid}".rstrip())
        if not_ready:
            info("not ready: " + ", ".join(f"{s.name} ({s.state})" for s in not_ready) + "; `devstack up` starts them")
    if not_ready:
        sys.exit(1)
