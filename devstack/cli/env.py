"""`devstack env`: print the app's connection settings, from the same plan as .env."""

from __future__ import annotations

import click


@click.command(help="Print the app's connection settings (the same values as .env).")
@click.option("--format", "fmt", type=click.Choice(["dotenv", "json", "shell"]), default="dotenv", show_default=True)
@click.pass_obj
def env(app, fmt):
    from devstack.render import format_env

    click.echo(format_env(app.plan().env, fmt), nl=False)
