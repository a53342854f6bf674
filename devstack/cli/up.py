"""`devstack up`: render, start, wait until ready, seed, write .env."""

from __future__ import annotations

import time

import click

from devstack.cli.app import info, relative


@click.command(help="Render, start what is not running, wait until every service is ready, seed, write .env.")
@click.option("--no-seed", is_flag=True, help="Do not load fixtures.")
@click.pass_obj
def up(app, no_seed):
    from devstack import render, runtime
    from devstack.lock import project_lock

    started_at = time.monotonic()
    rt = runtime.select(app.requested_runtime(), app)
    with project_lock(app.manifest.state_dir, on_wait=info):
        current = app.plan(host=rt.public_host())
        to_start = {s.name for s in current.running()} - rt.running_services(current)
        plan = app.plan(recheck_ports=to_start, host=rt.public_host())
        render.write_compose(plan)
        info(f"devstack: {plan.project} on {rt.name} ({rt.where()})")
        started = rt.up(plan, info)
        if not no_seed:
            from devstack.seed import seed_stack

            seed_stack(plan, info, first_start_only=True)
        env_file = render.write_env(plan)
    if started:
        info(f"ready in {time.monotonic() - started_at:.1f}s: {', '.join(started)}; wrote {relative(env_file)}")
    else:
        info(f"already up: all {len(plan.running())} services running and ready; nothing to do")
