"""`devstack seed [--reset] [SERVICE...]`: load fixtures; --reset restores the seeded state."""

from __future__ import annotations

import click

from devstack.cli.app import info


@click.command(help="Load fixtures into the running services (only what changed since the last seed). "
                    "--reset throws away what the app wrote and restores the seeded state from its snapshot.")
@click.option("--reset", is_flag=True, help="Restore the state right after the last seed (fast: snapshots), removing the app's writes.")
@click.argument("services", nargs=-1)
@click.pass_obj
def seed(app, reset, services):
    from devstack import runtime
    from devstack.errors import UserError
    from devstack.lock import project_lock
    from devstack.seed import prepare, seed_stack

    rt = runtime.select(app.requested_runtime(), app)
    with project_lock(app.manifest.state_dir, on_wait=info):
        plan = app.plan(host=rt.public_host())
        jobs = prepare(plan, list(services) or None)  # manifest problems first, before touching anything
        try:
            running = rt.running_services(plan)
        except NotImplementedError:
            running = None
        if running is not None:
            down = [svc.name for svc, _, _ in jobs if svc.name not in running]
            if down:
                raise UserError(f"not running: {', '.join(down)}", "start the stack first: `devstack up`")
        seed_stack(plan, info, services=list(services) or None, reset=reset)
