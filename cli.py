"""Command-line tasks: `flask --app app init-db | upgrade-db | create-user | ensure-admin …`."""
import sys
from pathlib import Path

import click
from flask import Flask
from playhouse.migrations import Runner

from models import current_actor, db
from services import users
from services.errors import DomainError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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
        import os
        current_actor.set("cli")
        user, password = users.ensure_admin(os.environ.get("ADMIN_PASSWORD") or None)
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
