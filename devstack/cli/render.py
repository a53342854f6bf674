"""`devstack render`: write the app's .env and, unless the runtime is native, .devstack/compose.yaml."""

from __future__ import annotations

import click

from devstack.cli.app import info, relative


@click.command(help="Write the app's .env and .devstack/compose.yaml from the plan "
                    "(no compose file when the runtime is native: nothing would read it).")
@click.pass_obj
def render(app):
    from devstack import render as renderer

    plan = app.plan()
    if app.requested_runtime() != "native":
        compose = renderer.write_compose(plan)
        info(f"wrote {relative(compose)} ({len([s for s in plan.services.values() if s.mode == 'run'])} services)")
    env_file = renderer.write_env(plan)
    info(f"wrote {relative(env_file)} ({len(plan.env)} variables)")
