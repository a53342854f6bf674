"""`devstack down [--volumes]`: stop everything of the stack; data kept unless --volumes."""

from __future__ import annotations

import click

from devstack.cli.app import info


@click.command(help="Stop every service of the stack. Data is kept; --volumes deletes it.")
@click.option("--volumes", "-v", is_flag=True, help="Also delete the stack's data (volumes, data dirs).")
@click.pass_obj
def down(app, volumes):
    from devstack import operations

    operations.down(app, info, volumes=volumes)
    info("stopped; data deleted" if volumes else "stopped; data kept (`devstack down --volumes` deletes it)")
