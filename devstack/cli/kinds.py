"""`devstack kinds [KIND]`: the catalog's reference, devstack's own kinds and plugins'."""

from __future__ import annotations

import click


@click.command(help="List the service kinds (devstack's own and installed plugins'), or show one: "
                    "its options, outputs, default env names and what runs where.")
@click.argument("names", nargs=-1, metavar="[KIND]...")
@click.option("--markdown", is_flag=True, help="Print the reference as Markdown (what docs/kinds.md holds).")
def kinds(names, markdown):
    from devstack.errors import UserError
    from devstack.options import suggest
    from devstack.services import catalog, reference

    for name in names:
        if catalog.get(name) is None:
            raise UserError(f"unknown kind `{name}`", suggest(name, catalog.names()) or "`devstack kinds` lists them")
    if markdown:
        items = [catalog.entry(n) for n in names] if names else catalog.entries()
        click.echo(reference.markdown(items), nl=False)
    elif names:
        click.echo("\n".join(reference.describe(n) for n in names), nl=False)
    else:
        click.echo(reference.listing(), nl=False)
