"""`devstack up`: render, start, wait until ready, seed, write .env."""

from __future__ import annotations

import click

from devstack.cli.app import info, relative


@click.command(help="Render, start what is not running, wait until every service is ready, seed, write .env.")
@click.option("--no-seed", is_flag=True, help="Do not load fixtures.")
@click.pass_obj
def up(app, no_seed):
    from devstack import operations

    result = operations.up(app, info, seed=not no_seed)
    if result.started:
        info(f"ready in {result.seconds:.1f}s: {', '.join(result.started)}; wrote {relative(result.plan.env_file)}")
    else:
        info(f"already up: all {len(result.plan.running())} services running and ready; nothing to do")
