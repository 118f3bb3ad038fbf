"""`flask --app app import FILE [--dry-run] [--sheet NAME] [--user NAME] [--map "HEADER=field"] [--ignore "HEADER"]`.

services.imports from the command line. A column the file has and no field matches is listed with
a few of its values; the import is refused until it is mapped (--map) or ignored (--ignore), and
the choice is remembered for the next file with the same header row, as on the mapping page.
"""
import sys
from pathlib import Path
from types import SimpleNamespace

import click
from flask_babel import force_locale, gettext

from models import User, current_actor
from services import imports
from services.errors import N_, DomainError
from services.import_columns import IGNORED, UnmappedColumns, blocking, describe, label
from services.import_values import COLUMNS

# Reasons of rejected rows printed after the summary (the rejected-rows file holds them all).
SHOWN_REASONS = 10


def _actor(username: str | None):
    """Return the user to act as: a named manager or admin, else the command line acting as an administrator."""
    if username is None:
        return SimpleNamespace(id=None, username="cli", role="admin")
    user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
    if user is None:
        raise click.BadParameter(f"no active user {username!r}", param_hint="--user")
    return user


def _choices(maps, ignores) -> list[tuple[str, str]]:
    """Return (column, field or IGNORED) from --map "HEADER=field" and --ignore "HEADER"."""
    choices = []
    for text in maps:
        column, sep, target = text.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise click.BadParameter(f"{text!r}: write it as \"HEADER=field\"", param_hint="--map")
        choices.append((column, target))
    return choices + [(column, IGNORED) for column in ignores]


def _how_to_decide(columns: list[dict], gettext) -> list[str]:
    """Return a line per undecided column with values: its values, and the two options that settle it."""
    lines = [gettext(N_('Column %(column)s holds values (%(values)s) but no field matches it: add --map '
                        '"%(name)s=FIELD" to import it, or --ignore "%(name)s" to leave it out.'),
                     column=label(c), values=", ".join(c["samples"]), name=c["header"] or c["letter"])
             for c in columns]
    fields = sorted(set(COLUMNS["beneficiaries"]) | set(COLUMNS["requests"]))
    return lines + [gettext(N_("FIELD is one of: %(fields)s."), fields=", ".join(fields))]


def summary_lines(batch, gettext) -> list[str]:
    """Return what the command prints after a run: the columns not imported, then the first reasons of rejection."""
    report = imports.report_of(batch) or {}
    columns = report.get("columns", [])
    lines = []
    undecided = blocking(columns)
    if undecided:
        lines.append(gettext(N_("Not matched to any field, with values: %(columns)s"), columns=describe(undecided)))
    empty = [c for c in columns if not c["ignored"] and not c["filled"]]
    if empty:
        lines.append(gettext(N_("Not matched to any field, empty: %(columns)s"),
                             columns=", ".join(label(c) for c in empty)))
    ignored = [c for c in columns if c["ignored"]]
    if ignored:
        lines.append(gettext(N_("Ignored: %(columns)s"), columns=describe(ignored)))
    if undecided:
        lines += _how_to_decide(undecided, gettext)
    for r in report.get("rejected", [])[:SHOWN_REASONS]:
        reason = gettext(r["message"], **r["params"]) if r["params"] else gettext(r["message"])
        where = (gettext(N_("sheet %(sheet)s, row %(row)s, column %(column)s"), sheet=r["sheet"], row=r["row"],
                         column=r["column"]) if r["column"]
                 else gettext(N_("sheet %(sheet)s, row %(row)s"), sheet=r["sheet"], row=r["row"]))
        value = f" «{r['value']}»" if r["value"] else ""
        lines.append(f"{where}{value}: {reason}")
    return lines


def register(app) -> None:
    """Attach the import command to the application."""

    @app.cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
    @click.option("--sheet", default=None, help="Import only this sheet of the workbook.")
    @click.option("--user", "username", default=None, help="Act as this manager or admin (default: cli).")
    @click.option("--map", "maps", multiple=True, metavar="HEADER=FIELD",
                  help="Import the column with this header (or letter: K) into this field; remembered.")
    @click.option("--ignore", "ignores", multiple=True, metavar="HEADER",
                  help="Leave the column with this header (or letter: K) out of the import; remembered.")
    def import_command(file, dry_run, sheet, username, maps, ignores):
        """Import beneficiaries and past requests from an .xlsx or .csv file."""
        actor = _actor(username)
        choices = _choices(maps, ignores)
        current_actor.set(actor.username)
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total, label="dry run" if dry_run else "importing")
                bar.__enter__()
            bar.update(done - bar.pos)

        # Messages in the default language (Arabic), as on screen; a command runs in the application context.
        with force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
            try:
                batch = imports.import_file(file, actor, app.config["IMPORT_DIR"], dry_run=dry_run, sheet=sheet,
                                            translate=gettext,
                                            default_channel=app.config["IMPORT_DEFAULT_CHANNEL"],
                                            progress=progress if sys.stdout.isatty() else None, columns=choices)
            except UnmappedColumns as err:
                lines = [gettext(N_("Nothing was imported: each column with values must be mapped to a field or "
                                    "ignored."))] + _how_to_decide(err.columns, gettext)
                click.echo(click.style("import refused: " + "\n".join(lines), fg="red"), err=True)
                sys.exit(1)
            except DomainError as err:
                click.echo(click.style(f"import failed: {err.translate(gettext)}", fg="red"), err=True)
                sys.exit(1)
            except Exception as err:  # a broken file or database: say so, exit non-zero, nothing written
                click.echo(click.style(f"import failed: {type(err).__name__}: {err}", fg="red"), err=True)
                sys.exit(1)
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
            lines = summary_lines(batch, gettext)
        verb = "would create" if dry_run else "created"
        click.echo(f"{batch.file_name}: {batch.processed_rows} rows, {verb} {batch.created_count}, "
                   f"updated {batch.updated_count}, unchanged {batch.unchanged_count}, "
                   f"rejected {batch.rejected_count}" + (" (dry run: nothing written)" if dry_run else ""))
        for line in lines:
            click.echo(line)
        if batch.rejected_path:
            click.echo(f"rejected rows with their reasons: {batch.rejected_path}")
