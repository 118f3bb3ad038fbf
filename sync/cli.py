"""`flask --app app sheets-sync [--full] [--dry-run] [--watch --interval SECONDS]`."""
import sys
import time

import click
from flask import Flask

from models import current_actor
from services.errors import DomainError

from . import run_sync, settings_from_config


def _english(message: str, **params) -> str:
    return message % params if params else message


def register(app: Flask) -> None:
    """Attach the sheets-sync command to the application."""

    @app.cli.command("sheets-sync")
    @click.option("--full", is_flag=True, help="Rewrite every row instead of only the changed ones.")
    @click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
    @click.option("--watch", is_flag=True, help="Keep syncing every --interval seconds (without the worker).")
    @click.option("--interval", type=click.IntRange(min=1), default=None,
                  help="Seconds between runs with --watch (default: SHEETS_SYNC_INTERVAL minutes).")
    def sheets_sync(full, dry_run, watch, interval):
        """Bring the board mirror (Google Sheet or instance/board.xlsx) up to date."""
        current_actor.set("cli")
        settings = settings_from_config(app.config, app.instance_path)
        if not watch:
            sys.exit(0 if _once(settings, full, dry_run) else 1)
        interval = interval or settings.interval_minutes * 60
        try:
            while True:
                _once(settings, full, dry_run)
                full = False  # only the first run of a watch is a full one
                time.sleep(interval)
        except KeyboardInterrupt:
            click.echo("stopped")


def _once(settings, full: bool, dry_run: bool) -> bool:
    """Run one sync, print the result; return whether it succeeded."""
    bar = None
    interactive = sys.stdout.isatty()

    def progress(stage, done, total):
        nonlocal bar
        if not interactive or stage != "write" or not total:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="writing")
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        report = run_sync(settings, full=full, dry_run=dry_run, progress=progress)
    except DomainError as err:
        click.echo(click.style("sheets-sync failed: " + err.translate(_english), fg="red"), err=True)
        return False
    except Exception as err:  # the reason, not a traceback, for cron mail and the watch loop
        click.echo(click.style(f"sheets-sync failed: {type(err).__name__}: {err}", fg="red"), err=True)
        return False
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(report.summary_line())
    for message, params in report.warnings:
        click.echo("warning: " + _english(message, **params), err=True)
    return True
