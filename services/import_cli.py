"""`flask --app app import FILE [--dry-run] [--sheet NAME] [--user NAME]`: services.imports from the command line."""
import sys
from pathlib import Path
from types import SimpleNamespace

import click

from models import User, current_actor

from . import imports
from .errors import DomainError


def _actor(username: str | None):
    """Return the user to act as: a named manager or admin, else the command line acting as an administrator."""
    if username is None:
        return SimpleNamespace(id=None, username="cli", role="admin")
    user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
    if user is None:
        raise click.BadParameter(f"no active user {username!r}", param_hint="--user")
    return user


def register(app) -> None:
    """Attach the import command to the application."""

    @app.cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
    @click.option("--sheet", default=None, help="Import only this sheet of the workbook.")
    @click.option("--user", "username", default=None, help="Act as this manager or admin (default: cli).")
    def import_command(file, dry_run, sheet, username):
        """Import beneficiaries and past requests from an .xlsx or .csv file."""
        from flask_babel import gettext
        actor = _actor(username)
        current_actor.set(actor.username)
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total, label="dry run" if dry_run else "importing")
                bar.__enter__()
            bar.update(done - bar.pos)

        # A request context of its own: messages in the default language (Arabic), as on screen.
        with app.test_request_context():
            try:
                batch = imports.import_file(file, actor, app.config["IMPORT_DIR"], dry_run=dry_run, sheet=sheet,
                                            translate=gettext,
                                            default_channel=app.config["IMPORT_DEFAULT_CHANNEL"],
                                            progress=progress if sys.stdout.isatty() else None)
            except DomainError as err:
                click.echo(click.style(f"import failed: {err.translate(gettext)}", fg="red"), err=True)
                sys.exit(1)
            except Exception as err:  # a broken file or database: say so, exit non-zero, nothing written
                click.echo(click.style(f"import failed: {type(err).__name__}: {err}", fg="red"), err=True)
                sys.exit(1)
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
        verb = "would create" if dry_run else "created"
        click.echo(f"{batch.file_name}: {batch.processed_rows} rows, {verb} {batch.created_count}, "
                   f"updated {batch.updated_count}, unchanged {batch.unchanged_count}, "
                   f"rejected {batch.rejected_count}" + (" (dry run: nothing written)" if dry_run else ""))
        if batch.rejected_path:
            click.echo(f"rejected rows with their reasons: {batch.rejected_path}")
