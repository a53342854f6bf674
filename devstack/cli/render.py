"""`devstack render`: write .devstack/compose.yaml and the app's .env from the plan."""

from __future__ import annotations

import click

from devstack.cli.app import info, relative


@click.command(help="Write .devstack/compose.yaml and the app's .env from the plan.")
@click.pass_obj
def render(app):
    from devstack import render as renderer

    plan = app.plan()
    compose = renderer.write_compose(plan)
    env_file = renderer.write_env(plan)
    info(f"wrote {relative(compose)} ({len([s for s in plan.services.values() if s.mode == 'run'])} services)")
    info(f"wrote {relative(env_file)} ({len(plan.env)} variables)")
