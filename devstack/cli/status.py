"""`devstack status [--json]`: each service's state, where the stack runs."""

from __future__ import annotations

import json

import click


@click.command(help="Show each service's state (--json for scripts).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
@click.pass_obj
def status(app, as_json):
    from devstack import runtime

    rt = runtime.select(app.requested_runtime(), app)
    plan = app.plan(host=rt.public_host())
    states = rt.status(plan)
    if as_json:
        click.echo(json.dumps({"project": plan.project, "runtime": rt.name, "where": rt.where(),
                               "services": [s.as_dict() for s in states]}, indent=2))
        return
    click.echo(f"{plan.project} on {rt.name} ({rt.where()})")
    width = max((len(s.name) for s in states), default=4)
    for s in states:
        pid = f"pid {s.pid}" if s.pid else ""
        click.echo(f"  {s.name:<{width}}  {s.kind:<9} {s.mode:<8} {s.state:<8} {s.detail} {pid}".rstrip())
