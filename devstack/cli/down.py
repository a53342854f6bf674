"""`devstack down [--volumes]`: stop everything of the stack; data kept unless --volumes."""

from __future__ import annotations

import click

from devstack.cli.app import info


@click.command(help="Stop every service of the stack. Data is kept; --volumes deletes it.")
@click.option("--volumes", "-v", is_flag=True, help="Also delete the stack's data (volumes, data dirs).")
@click.pass_obj
def down(app, volumes):
    from devstack import runtime
    from devstack.lock import project_lock
    from devstack.ports import PortBook

    rt = runtime.select(app.requested_runtime(), app)
    with project_lock(app.manifest.state_dir, on_wait=info):
        plan = app.plan(host=rt.public_host())
        rt.down(plan, volumes, info)
        if volumes:
            PortBook(plan.state_dir, plan.root).release()
    info("stopped; data deleted" if volumes else "stopped; data kept (`devstack down --volumes` deletes it)")
