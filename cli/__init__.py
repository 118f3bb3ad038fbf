"""Command-line tasks: `flask --app app init-db | upgrade-db | create-user | ensure-admin | demo-data | backup |
restore | send-notifications | retention`, and `import` (cli/imports.py) and `sheets-sync` (sync/cli.py)."""
import os
import random
import sys
from pathlib import Path

import click
from flask import Flask
from playhouse.migrations import Runner

from models import User, current_actor, db
from services import backup as backups
from services import users
from services.errors import DomainError

from . import demo

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def migration_runner() -> Runner:
    """Return peewee's migration runner over our migrations, history in `schema_migration`."""
    return Runner(db.obj, directory=str(MIGRATIONS_DIR), table_name="schema_migration")


def upgrade() -> list[str]:
    """Apply every pending migration (each in its own transaction); return their names."""
    return migration_runner().up()


def _fail(err: DomainError) -> None:
    click.echo(click.style(err.translate(lambda m, **p: m % p if p else m), fg="red"), err=True)
    sys.exit(1)


def register(app: Flask) -> None:
    """Attach the commands to the application."""
    from sync.cli import register as register_sheets_sync
    register_sheets_sync(app)
    from .imports import register as register_import
    register_import(app)

    @app.cli.command("init-db")
    def init_db():
        """Create the database and apply the schema; safe to run again."""
        current_actor.set("cli")
        applied = upgrade()
        click.echo(f"database ready ({len(applied)} migrations applied)")

    @app.cli.command("upgrade-db")
    def upgrade_db():
        """Apply pending schema migrations recorded in the schema_migration table."""
        current_actor.set("cli")
        applied = upgrade()
        for name in applied:
            click.echo(f"applied {name}")
        if not applied:
            click.echo("schema is up to date")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", required=True, help="admin, manager, researcher, volunteer or board")
    @click.option("--full-name", default="")
    def create_user(username, role, full_name):
        """Create a staff account; the password comes from standard input or a prompt."""
        current_actor.set("cli")
        try:
            users.validate_role(role)
        except DomainError as err:
            _fail(err)
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        try:
            user = users.create_user(username, role, password, full_name=full_name)
        except DomainError as err:
            _fail(err)
        click.echo(f"created {user.username} ({user.role})")

    @app.cli.command("ensure-admin")
    def ensure_admin():
        """Create the first admin when there is no user (ADMIN_PASSWORD or a printed random one)."""
        current_actor.set("cli")
        try:
            user, password = users.ensure_admin(os.environ.get("ADMIN_PASSWORD") or None)
        except DomainError as err:
            # `make run` stops here: one line saying what the password needs, not a traceback.
            rule = err.translate(lambda m, **p: m % p if p else m)
            click.echo(click.style(
                f"ADMIN_PASSWORD is not accepted: {rule} It needs at least {users.MIN_PASSWORD_LENGTH} characters, "
                "letters mixed with digits or symbols, and not the word “admin”.", fg="red"), err=True)
            sys.exit(1)
        if user is None:
            return
        if os.environ.get("ADMIN_PASSWORD"):
            click.echo("created user 'admin' with the password from ADMIN_PASSWORD")
        else:
            click.echo("=" * 60)
            click.echo("First administrator created. Shown once — write it down:")
            click.echo(f"  username: admin\n  password: {password}")
            click.echo("You will be asked to change it at first login.")
            click.echo("=" * 60)

    @app.cli.command("demo-data")
    @click.option("--beneficiaries", "count", type=click.IntRange(min=0), default=50, show_default=True,
                  help="How many new beneficiaries to register.")
    @click.option("--seed", type=int, default=None, help="The same seed gives the same rows on a fresh database.")
    def demo_data(count, seed):
        """Fill the database with demonstration beneficiaries, requests and visits."""
        current_actor.set("cli")
        if seed is None:
            seed = random.SystemRandom().randrange(1_000_000)
        summary = demo.generate(count, seed)
        click.echo(f"seed {summary.seed}: {summary.beneficiaries} beneficiaries ({summary.members} household "
                   f"members), {summary.requests} requests, {summary.visits} visits, {summary.services} services")
        if summary.skipped:
            click.echo(f"skipped {summary.skipped} ID numbers already registered")
        for username, role, password in summary.users:
            click.echo(f"created user {username} ({role}), password {password} (to change at first login)")
        if not User.select().where(User.role == "admin").exists():
            # ensure-admin only acts on an empty user table, which now holds the demo accounts.
            click.echo("no administrator yet: create one with `flask --app app create-user NAME --role admin`")

    @app.cli.command("send-notifications")
    @click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
                  help="Send at most this many messages.")
    def send_notifications(limit):
        """Send the messages due now in the foreground (for cron); the worker does the same every minute."""
        from services import notifications
        current_actor.set("cli")
        try:
            counts = notifications.send_due(limit=limit, settings=app.config)
        except Exception as err:  # the database or the settings are broken: say so, exit non-zero
            click.echo(click.style(f"send-notifications failed: {err}", fg="red"), err=True)
            sys.exit(1)
        click.echo(f"{counts['sent']} sent, {counts['failed']} failed, {counts['unknown']} unknown, "
                   f"{counts['skipped']} skipped")

    @app.cli.command("retention")
    @click.option("--dry-run", is_flag=True, help="Only list the files due; erase nothing.")
    def retention_command(dry_run):
        """List the files whose personal data is past its retention period, then erase it (see services/retention.py)."""
        from services import retention
        current_actor.set("cli")
        result = retention.run("cli", upload_dir=app.config["UPLOAD_DIR"], dry_run=dry_run)
        for plan in result.report.files:
            what = ", ".join(f"{code} ({plan.rows[code]})" for code in plan.categories)
            click.echo(f"{plan.reference or plan.beneficiary_id}  last activity {plan.last_activity:%Y-%m-%d}  "
                       f"{'anonymise' if plan.complete else 'erase'}: {what}")
        if dry_run:
            click.echo(f"{result.report.total} files due, {result.report.anonymised} to anonymise completely "
                       "(dry run: nothing erased)")
            return
        click.echo(f"{len(result.done)} files erased, {sum(1 for d in result.done if d.complete)} anonymised, "
                   f"{result.failed} failed")
        if result.failed:
            sys.exit(1)

    @app.cli.command("backup")
    @click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
    def backup(dest):
        """Copy the database and the uploaded documents into DEST (created if missing)."""
        current_actor.set("cli")
        try:
            result = backups.backup(db.obj, app.config["UPLOAD_DIR"], dest)
        except DomainError as err:
            _fail(err)
        click.echo(f"database copied to {result.database}")
        click.echo(f"{result.files} uploaded files copied to {result.uploads}")

    @app.cli.command("restore")
    @click.argument("src", type=click.Path(path_type=Path))
    @click.option("--force", is_flag=True, help="Replace a database or uploads folder that is not empty.")
    def restore(src, force):
        """Bring back a backup folder made by `backup`, then apply any newer migrations."""
        current_actor.set("cli")
        try:
            result = backups.restore(db.obj, app.config["UPLOAD_DIR"], src, force=force)
        except DomainError as err:
            _fail(err)
        click.echo(f"database restored from {result.database}")
        click.echo(f"{result.files} uploaded files restored into {result.uploads}")
        # A backup taken before an upgrade is brought up to this version's schema.
        for name in upgrade():
            click.echo(f"applied {name}")
