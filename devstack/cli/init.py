"""`devstack init`: write devstack.yaml from the app's .env.example, dependency document or compose file."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(help="Write devstack.yaml from the app's .env.example, dependency document or compose file.")
@click.option("--from", "sources", multiple=True, metavar="PATH",
              help="File to read (repeatable). Default: the usual files here and one folder down.")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--force", is_flag=True, help="Replace an existing devstack.yaml.")
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON to stdout.")
@click.pass_obj
def init(app, sources, dry_run, force, as_json):
    # No manifest exists yet: init never touches app.manifest.
    from devstack import init as initpkg
    from devstack.cli.app import info, relative
    from devstack.errors import UserError
    from devstack.init import report, writer

    target = Path(app.file).expanduser() if app.file else Path.cwd() / "devstack.yaml"
    if target.is_dir():
        target = target / "devstack.yaml"
    root = target.parent if app.file else Path.cwd()
    if target.exists() and not force and not dry_run:
        raise UserError(f"{relative(target)} already exists", "pass --force to replace it, or --dry-run to see what init would write")
    result = initpkg.run(root, [Path(s) for s in sources] or None)
    hints = f", {len(result.inputs.hints)} services they run" if result.inputs.hints else ""
    info(f"init: read {', '.join(result.inputs.files)} ({len(result.decisions)} variables{hints})")
    text = writer.render(result)
    writer.validate(text, target.parent if target.parent.exists() else Path.cwd())
    if not dry_run:
        writer.write(target, text, force)
    if as_json:
        click.echo(json.dumps(report.as_data(result, str(target), not dry_run), indent=2))
    else:
        click.echo(report.table(result), nl=False)
        if dry_run:
            click.echo("\n--- devstack.yaml (not written: --dry-run) ---\n" + text, nl=False)
    if not result.services:
        info(f"init: nothing in {', '.join(result.inputs.files)} names a service devstack runs; "
             "the manifest has a placeholder that runs nothing (edit it, or pass another file with --from)")
    if not dry_run:
        info(f"wrote {relative(target)}: {len(result.services)} services, {sum(d.written for d in result.decisions)} variables; next: devstack up")
