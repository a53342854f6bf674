"""`devstack logs SERVICE [-f]`."""

from __future__ import annotations

import click

from devstack.errors import UserError
from devstack.options import suggest


@click.command(help="Show a service's log (-f follows it).")
@click.argument("service")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", default=100, show_default=True, help="How many last lines to show.")
@click.pass_obj
def logs(app, service, follow, lines):
    rt = app.select_runtime()
    plan = app.plan(host=rt.public_host(), persist=False)
    if service not in plan.services:
        raise UserError(f"no service `{service}` in {plan.manifest_path.name}", suggest(service, plan.services) or "services: " + ", ".join(plan.services))
    rt.logs(plan, service, follow, lines)
